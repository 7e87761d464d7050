// libjpeg's error manager, as both JPEG directions (JPEGCodec.swift, JPEGEncoder.swift) use it on an
// AbandonableThread: a fatal error formats libjpeg's message into the caller's buffer and ends the
// thread (error_exit must not return, and Swift cannot longjmp); warnings are dropped (libjpeg would
// print them to stderr, which a daemon must not do — "extraneous bytes before marker" is common in
// camera files). libjpeg's struct comes first, as in C's `my_error_mgr` idiom, so that the handler finds
// the message buffer from the `err` pointer libjpeg hands it, whatever job the codec belongs to.
import CImageCodecs

struct JPEGErrorManager {
    var manager = jpeg_error_mgr()
    /// JMSG_LENGTH_MAX bytes, owned by the caller, where a fatal error's text goes.
    var message: UnsafeMutablePointer<CChar>

    init(message: UnsafeMutablePointer<CChar>) { self.message = message }

    /// Sets up the manager at `pointer` — which must stay where it is while the codec lives — and returns
    /// what the codec's `err` field takes.
    static func install(at pointer: UnsafeMutablePointer<JPEGErrorManager>) -> UnsafeMutablePointer<jpeg_error_mgr> {
        precondition(MemoryLayout<JPEGErrorManager>.offset(of: \.manager) == 0, "libjpeg's manager must come first")
        let errors = jpeg_std_error(pointer.pointer(to: \.manager)!)!
        errors.pointee.error_exit = { common in
            let ours = UnsafeMutableRawPointer(common!.pointee.err!).assumingMemoryBound(to: JPEGErrorManager.self)
            common!.pointee.err.pointee.format_message(common, ours.pointee.message)
            AbandonableThread.abandon()
        }
        errors.pointee.output_message = { _ in }
        return errors
    }
}
