import HTTPTypes
import Hummingbird

/// The node's HTTP surface (PROTOCOL.md §3).
enum NodeRoutes {
    /// Builds the router: the web client, health, readiness, metrics, and the
    /// answer to a `/chat` request that was not upgraded.
    static func router(for node: ChatNode) -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        let assets = WebClientAssets()
        router.get("/") { request, _ in
            assets.response(for: "/index.html", host: request.head.authority) ?? plainText("web client missing\n", status: .notFound)
        }
        router.get("/app/**") { request, _ in
            let path = String(request.uri.path.dropFirst("/app".count))
            return assets.response(for: path, host: request.head.authority) ?? plainText("not found\n", status: .notFound)
        }
        router.get("/healthz") { _, _ in
            plainText("ok\n")
        }
        router.get("/readyz") { _, _ in
            if await node.isReady() { return plainText("ready\n") }
            let reason = node.isDraining ? "draining\n" : "bus unavailable\n"
            return plainText(reason, status: .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            let backlog = await node.deliveries.outboundBacklog()
            node.metrics.outboundQueuedBytes.record(backlog.bytes)
            node.metrics.outboundQueuedEvents.record(backlog.events)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: node.metrics.render()))
            )
        }
        router.get("/chat") { request, _ in
            let decision = HandshakeDecision.decide(
                origin: request.headers[.origin],
                host: request.head.authority,
                offeredSubprotocols: request.headers[values: .secWebSocketProtocol],
                originPolicy: node.originPolicy
            )
            switch decision {
            case .refuse(let status, let reason):
                return plainText(reason, status: HTTPResponse.Status(code: status))
            case .upgrade:
                // Origin and subprotocol are fine, so the request was not a WebSocket upgrade at all.
                var response = plainText("/chat is a WebSocket endpoint; upgrade with subprotocol chat.v3.json, chat.v2.json or chat.v1.json\n", status: .upgradeRequired)
                response.headers[.upgrade] = "websocket"
                return response
            }
        }
        if let key = node.apiKey {
            ServerAPIRoutes.add(to: router, node: node, key: key)
        }
        return router
    }

    static func plainText(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}
