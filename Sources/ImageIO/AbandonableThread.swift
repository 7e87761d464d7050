// A way to call C libraries whose fatal-error callback must not return (libjpeg's `error_exit`) from
// Swift, which has no setjmp. The work runs on a dedicated POSIX thread; when the library reports a fatal
// error, our callback ends that thread with pthread_exit, which never returns to the library. The waiting
// thread then sees that the work did not finish and cleans up the library's state (all of which lives in
// memory the caller owns, e.g. jpeg_destroy_decompress frees libjpeg's pools).
//
// pthread_exit unwinds the thread's stack without running Swift cleanups, so code on that thread must
// hold no Swift references (no ARC traffic to lose): it works only through raw pointers to plain C-layout
// structs. That is the rule for every `body` passed here. The alternatives were worse: libjpeg's default
// error_exit calls exit(); returning from error_exit lets libjpeg run on with corrupt state; TurboJPEG's
// tjDecompress (which hides the setjmp inside C) is not installed (Debian `libturbojpeg0-dev`).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum AbandonableThread {
    /// What a thread body receives: a C function and its context pointer.
    typealias Body = @convention(c) (UnsafeMutableRawPointer) -> Void

    private struct Launch {
        var body: Body
        var context: UnsafeMutableRawPointer
        var finished: Bool
    }

    /// Runs `body(context)` on a new thread and waits for it. Returns true when `body` returned, false when
    /// it was ended by `abandon()`; nil if no thread could be created.
    static func run(_ body: Body, context: UnsafeMutableRawPointer) -> Bool? {
        let launch = UnsafeMutablePointer<Launch>.allocate(capacity: 1)
        launch.initialize(to: Launch(body: body, context: context, finished: false))
        defer { launch.deallocate() }

        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        // Decoders need little stack; a fixed size keeps us independent of `ulimit -s`.
        pthread_attr_setstacksize(&attributes, 1 << 20)

        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let created = pthread_create(&thread, &attributes, { raw in
            let launch = raw!.assumingMemoryBound(to: Launch.self)
            launch.pointee.body(launch.pointee.context)
            launch.pointee.finished = true
            return nil
        }, launch)
        guard created == 0 else { return nil }
        #if canImport(Glibc)
        pthread_join(thread, nil)
        #else
        pthread_join(thread!, nil)
        #endif
        // pthread_join orders the thread's writes before our read of `finished`.
        return launch.pointee.finished
    }

    /// Ends the current thread, which must be one started by `run`. Called from a C library's fatal-error
    /// callback; never returns into the library.
    static func abandon() -> Never {
        pthread_exit(nil)
    }
}
