// The errors the dbrender client reports. Each one's `description` is ONE line for stderr that names
// what a user needs to act on: the socket and a hint, the file and line, or the daemon's code and field.
import Foundation
import RenderAPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that can go wrong between reading a prompt file and writing the last image.
public indirect enum ClientError: Error, Equatable, CustomStringConvertible {
    /// connect(2) failed. `alsoTried` lists the default socket locations that did not exist either.
    case cannotConnect(path: String, errno: Int32, alsoTried: [String])
    /// The daemon did not accept the connection in time (its listen backlog is full).
    case connectTimedOut(path: String, seconds: Double)
    /// sun_path holds at most `limit` bytes.
    case socketPathTooLong(path: String, limit: Int)
    /// A socket call failed after the connection was made.
    case socketFailed(operation: String, errno: Int32)
    /// No answer bytes arrived in time.
    case readTimedOut(seconds: Double)
    /// The answer is not the HTTP/1.1 or JSON the contract describes.
    case malformedResponse(String)
    /// The connection closed inside a body whose length was announced (Content-Length or chunked).
    case closedMidBody
    /// The daemon answered with an error: an HTTP status (nil for an `error` stream event) and its body
    /// (a body that is not an ErrorBody becomes code `http_<status>` with the body's text as message).
    case daemon(status: Int?, ErrorBody.Detail, retryAfter: Int?)
    /// The stream ended without `done` or `error`: the daemon stopped or dropped the connection.
    case streamEndedEarly(jobID: String?)
    /// A prompt-file line that cannot be rendered; `line` is 1-based.
    case promptFile(file: String, line: Int, reason: String)
    /// A file the client reads (a prompt file, an init image) cannot be read.
    case cannotRead(path: String, reason: String)
    /// An image could not be written.
    case cannotWrite(path: String, errno: Int32)
    /// Another error, in the context of one prompt-file line.
    case atLine(file: String, line: Int, ClientError)

    public var description: String {
        switch self {
        case let .cannotConnect(path, code, alsoTried):
            var text = "cannot connect to \(path): \(Self.systemMessage(code))"
            switch code {
            case ENOENT, ECONNREFUSED: text += " — is dbrenderd running?"
            // The daemon's socket is mode 0660: only its owner and group may connect.
            case EACCES, EPERM: text += " — is your user in the socket's group?"
            default: break
            }
            if !alsoTried.isEmpty { text += " (also tried \(alsoTried.joined(separator: ", ")))" }
            return text
        case let .connectTimedOut(path, seconds):
            return "cannot connect to \(path): no answer within \(Self.seconds(seconds)) — is dbrenderd overloaded?"
        case let .socketPathTooLong(path, limit):
            return "socket path is longer than \(limit) bytes: \(path)"
        case let .socketFailed(operation, code):
            return "\(operation) failed: \(Self.systemMessage(code))"
        case let .readTimedOut(seconds):
            return "dbrenderd did not answer within \(Self.seconds(seconds))"
        case let .malformedResponse(reason):
            return "malformed answer from dbrenderd: \(reason)"
        case let .daemon(_, detail, retryAfter):
            var text = "\(detail.code): \(detail.message)"
            if let field = detail.field { text += " (field: \(field))" }
            if let retryAfter { text += " (retry after \(retryAfter) s)" }
            return text
        case .closedMidBody:
            return "malformed answer from dbrenderd: connection closed before the body ended"
        case let .streamEndedEarly(jobID):
            // Through a load balancer (deploy/nginx/) the daemon that stopped may be one of several.
            return "the stream ended before the render finished: dbrenderd (or a proxy in front of it) stopped or dropped the connection"
                + (jobID.map { " (job \($0))" } ?? "")
        case let .promptFile(file, line, reason):
            return "\(file):\(line): \(reason)"
        case let .cannotRead(path, reason):
            return "cannot read \(path): \(reason)"
        case let .cannotWrite(path, code):
            return "cannot write \(path): \(Self.systemMessage(code))"
        case let .atLine(file, line, inner):
            return "\(file):\(line): \(inner.description)"
        }
    }

    /// The error without its prompt-file context (to match on the cause).
    public var cause: ClientError {
        if case let .atLine(_, _, inner) = self { return inner.cause }
        return self
    }

    static func systemMessage(_ code: Int32) -> String { String(cString: strerror(code)) }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
