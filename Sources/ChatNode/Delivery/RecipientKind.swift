import ChatProtocol
import NIOCore

/// What one connection's bytes look like: the protocol version it speaks and
/// whether it negotiated `permessage-deflate`. A node frames each broadcast
/// once per kind in use, never once per recipient.
struct RecipientKind: Hashable, Sendable {
    var version: ProtocolVersion
    var isCompressed: Bool

    /// How many kinds there are; `index` is below it.
    static let count = 4

    /// A dense number for per-kind arrays.
    var index: Int { (version == .v1 ? 0 : 2) + (isCompressed ? 1 : 0) }

    /// The kind whose `index` is `index`.
    init(index: Int) {
        self.version = index < 2 ? .v1 : .v2
        self.isCompressed = index % 2 == 1
    }

    init(version: ProtocolVersion, isCompressed: Bool) {
        self.version = version
        self.isCompressed = isCompressed
    }
}

/// Which connections a broadcast is for: presence travels as `joined`/`left`
/// to v1 clients and as `presence` batches to v2 clients; chat lines go to all.
enum Audience: Sendable {
    case everyone
    case only(ProtocolVersion)

    func includes(_ kind: RecipientKind) -> Bool {
        switch self {
        case .everyone: true
        case .only(let version): kind.version == version
        }
    }
}

/// One event framed for every kind of recipient: as a plain text frame, and
/// compressed when some recipient negotiated compression and it pays off.
struct OutgoingFrames: Sendable {
    let plain: ByteBuffer
    let compressed: ByteBuffer?

    init(plain: ByteBuffer, compressed: ByteBuffer? = nil) {
        self.plain = plain
        self.compressed = compressed
    }

    /// The bytes a connection of `kind` gets.
    func bytes(for kind: RecipientKind) -> ByteBuffer {
        kind.isCompressed ? (compressed ?? plain) : plain
    }
}
