import ChatProtocol
import HTTPTypes
import Hummingbird
import NIOCore

/// A refused server API request: the HTTP status, and the `{"error",
/// "message"}` body PROTOCOL.md §7 gives it.
struct APIError: Error {
    let status: HTTPResponse.Status
    /// The protocol's error code (`no_such_room`, `room_invalid`, …).
    let code: String
    let message: String

    init(_ status: HTTPResponse.Status, _ code: ErrorCode, _ message: String? = nil) {
        self.init(status, code.rawValue, message ?? code.defaultMessage)
    }

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    var response: Response {
        var writer = JSONWriter()
        writer.beginObject()
        writer.member("error", code)
        writer.member("message", message)
        writer.endObject()
        return ServerAPIRoutes.json(writer.bytes, status: status)
    }

    /// Runs a bus operation, turning its failure into the API's answer.
    static func from<Value>(_ operation: () async throws -> Value) async throws(APIError) -> Value {
        do {
            return try await operation()
        } catch let failure as ServerAPIFailure {
            switch failure {
            case .noSuchRoom: throw APIError(.notFound, "no_such_room", "no room with that name exists")
            case .noSuchUser: throw APIError(.notFound, .noSuchUser)
            case .notInRoom: throw APIError(.notFound, "not_in_room", "that user is not a member of that room")
            case .unavailable: throw APIError(.serviceUnavailable, .unavailable)
            }
        } catch {
            throw APIError(.serviceUnavailable, .unavailable)
        }
    }
}
