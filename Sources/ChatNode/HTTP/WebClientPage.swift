import HTTPTypes
import Hummingbird

/// The page served at `/`. A minimal placeholder until the web client lands.
enum WebClientPage {
    static func response() -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .contentSecurityPolicy: "default-src 'self'; script-src 'self'; connect-src 'self'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'",
                .xContentTypeOptions: "nosniff",
                HTTPField.Name("Referrer-Policy")!: "no-referrer",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
    }

    private static let html = """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Chat node</title></head>
        <body>
        <h1>Chat node</h1>
        <p>This node speaks the <code>chat.v1.json</code> WebSocket subprotocol at <code>/chat</code>.</p>
        </body>
        </html>
        """
}
