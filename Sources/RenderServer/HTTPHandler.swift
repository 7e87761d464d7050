// One HTTP/1.1 connection: collects a request (refusing bodies over the limit with 413 before
// reading them), routes it, and writes the answer — a JSON body, or for renders with
// `Accept: application/x-ndjson` a chunked stream of one event per line. A client that hangs up
// cancels the render it was waiting for. Nothing a client sends can stop the daemon. On a listener
// that needs credentials (TCP with --api-key-file), a request without a valid one is answered 401
// as soon as its head arrives; its body is read and dropped, and the connection stays usable.
import Foundation
import NIOCore
import NIOHTTP1
import RenderAPI

/// The channel handler behind every connection.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let router: RequestRouter
    private let maximumBodyBytes: Int
    /// The credentials this listener requires; nil: none (the Unix socket, a loopback TCP port
    /// without a key file).
    private let keys: APIKeys?
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var discarding = false
    /// The render this connection is waiting for; cancelled if the client goes away first.
    private var waitingFor: RenderJob?

    init(router: RequestRouter, maximumBodyBytes: Int, keys: APIKeys?) {
        self.router = router
        self.maximumBodyBytes = maximumBodyBytes
        self.keys = keys
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body.clear()
            discarding = false
            if let keys, !keys.accepts(authorization: requestHead.headers.first(name: "authorization")) {
                discarding = true
                router.engine.metrics.authenticationFailed()
                let presented = requestHead.headers.contains(name: "authorization")
                let message = presented ? "the credentials are not valid" : "this listener needs an API key (Authorization: Bearer KEY, or HTTP Basic)"
                respondUnauthorized(context, path: requestHead.uri, message: message, keepAlive: requestHead.isKeepAlive)
                return
            }
            if let length = requestHead.headers.first(name: "content-length").flatMap(Int.init), length > maximumBodyBytes {
                discarding = true
                respond(context, APIError(status: 413, code: "body_too_large",
                                          message: "the body has \(length) bytes; the limit is \(maximumBodyBytes)"), close: true)
            }
        case .body(var chunk):
            guard !discarding else { return }
            if body.readableBytes + chunk.readableBytes > maximumBodyBytes {
                discarding = true
                respond(context, APIError(status: 413, code: "body_too_large", message: "the body exceeds \(maximumBodyBytes) bytes"), close: true)
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            guard !discarding, let head else {
                discarding = false
                return
            }
            self.head = nil
            handle(context, head: head, body: Data(body.readableBytesView))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let job = waitingFor, !job.isFinished { router.engine.cancel(job) }
        waitingFor = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A malformed request line or headers: answer 400 if we still can, then close.
        if error is HTTPParserError {
            respond(context, APIError(status: 400, code: "malformed_http", message: "the request is not valid HTTP/1.1"), close: true)
        } else {
            context.close(promise: nil)
        }
    }

    // MARK: Routing

    private func handle(_ context: ChannelHandlerContext, head: HTTPRequestHead, body: Data) {
        let keepAlive = head.isKeepAlive
        switch router.route(head, body: body) {
        case .json(let status, let data, let extraHeaders):
            write(context, status: status, contentType: "application/json", body: data, headers: extraHeaders, keepAlive: keepAlive)
        case .text(let status, let text, let contentType):
            write(context, status: status, contentType: contentType, body: Data(text.utf8), headers: [], keepAlive: keepAlive)
        case .error(let error):
            respond(context, error, close: !keepAlive)
        case .waitForRender(let job, let answer):
            waitingFor = job
            let channel = context.channel
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            job.whenFinished {
                // Called with the engine's lock held: the answer is built on the event loop.
                loop.execute {
                    let (handler, context) = bound.value
                    handler.waitingFor = nil
                    guard channel.isActive else { return }
                    switch answer(job) {
                    case .json(let status, let data, let extraHeaders):
                        handler.write(context, status: status, contentType: "application/json", body: data, headers: extraHeaders, keepAlive: keepAlive)
                    case .error(let error): handler.respond(context, error, close: !keepAlive)
                    default: handler.respond(context, APIError(status: 500, code: "internal", message: "unexpected answer"), close: true)
                    }
                }
            }
        case .stream(let job, let relay, let contentType, let format):
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Cache-Control", value: "no-store")
            headers.add(name: "Transfer-Encoding", value: "chunked")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            context.flush()
            // Events arrive on the engine thread; each is written on the connection's event loop.
            relay.attach { event in
                guard let (bytes, isLast) = format(event) else { return }
                loop.execute {
                    let (handler, context) = bound.value
                    guard context.channel.isActive else { return }
                    context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))), promise: nil)
                    if isLast {
                        handler.waitingFor = nil
                        context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
                        if !keepAlive { context.close(promise: nil) }
                    }
                }
            }
            waitingFor = job
        }
    }

    // MARK: Writing

    /// 401 in the shape the route's clients read: OpenAI's error object, A1111's HTTPException, or ours.
    private func respondUnauthorized(_ context: ChannelHandlerContext, path: String, message: String, keepAlive: Bool) {
        let challenge = [("WWW-Authenticate", "Bearer realm=\"dbrenderd\", Basic realm=\"dbrenderd\"")]
        router.engine.metrics.error("unauthorized")
        let body: Data
        if path.hasPrefix("/v1/images/") || path.hasPrefix("/v1/models") {
            body = OpenAIImagesService.encode(OpenAIImagesService.errorObject(message, type: "invalid_request_error", param: nil, code: "invalid_api_key"))
        } else if path.hasPrefix("/sdapi/") {
            body = A1111Service.encode(["error": "HTTPException", "detail": "Incorrect username or password", "body": "", "errors": "401: \(message)"])
        } else {
            body = APIJSON.encode(ErrorBody(code: "unauthorized", message: message))
        }
        write(context, status: 401, contentType: "application/json", body: body, headers: challenge, keepAlive: keepAlive)
        if !keepAlive { context.close(promise: nil) }
    }

    private func respond(_ context: ChannelHandlerContext, _ error: APIError, close: Bool) {
        router.engine.metrics.error(error.body.error.code)
        var headers: [(String, String)] = []
        if let retry = error.retryAfter { headers.append(("Retry-After", "\(retry)")) }
        if error.status == 401 { headers.append(("WWW-Authenticate", "Bearer realm=\"dbrenderd\", Basic realm=\"dbrenderd\"")) }
        write(context, status: error.status, contentType: "application/json", body: APIJSON.encode(error.body), headers: headers, keepAlive: !close)
        if close { context.close(promise: nil) }
    }

    private func write(_ context: ChannelHandlerContext, status: Int, contentType: String, body: Data,
                       headers extra: [(String, String)], keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in extra { headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
