import Foundation

/// The bearer key of the server API (`--api-key-file`, PROTOCOL.md §7),
/// read once at start-up.
struct APIKey: Sendable {
    /// Shorter keys are refused at start-up: they can be guessed.
    static let minimumLength = 16

    private let bytes: [UInt8]

    /// Reads the key from `path` (trailing newlines dropped).
    static func load(_ path: String) throws(NodeStartupError) -> APIKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NodeStartupError(message: "--api-key-file: cannot read \"\(path)\"")
        }
        let key = Array(data).trimmingTrailingNewlines()
        guard key.count >= minimumLength, key.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw NodeStartupError(
                message: "--api-key-file: the key in \"\(path)\" must be at least \(minimumLength) printable characters without spaces"
            )
        }
        return APIKey(bytes: key)
    }

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Whether an `Authorization` header value is `Bearer <this key>`. The
    /// comparison takes the same time wherever the first difference is, so
    /// timing reveals nothing of the key.
    func authorizes(_ header: String?) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        let candidate = Array(header.utf8.dropFirst("Bearer ".count))
        var difference = UInt8(truncatingIfNeeded: candidate.count ^ bytes.count)
        for index in bytes.indices {
            difference |= bytes[index] ^ (index < candidate.count ? candidate[index] : 0)
        }
        return difference == 0
    }
}
