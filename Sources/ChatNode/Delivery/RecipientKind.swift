import ChatProtocol
import NIOCore

/// What one connection's bytes look like: the protocol version it speaks and
/// whether it negotiated `permessage-deflate`. A node frames each broadcast
/// once per kind in use, never once per recipient.
struct RecipientKind: Hashable, Sendable {
    var version: ProtocolVersion
    var isCompressed: Bool

    /// How many kinds there are; `index` is below it.
    static let count = 6

    /// The versions in `index` order.
    private static let versions: [ProtocolVersion] = [.v1, .v2, .v3]

    /// A dense number for per-kind arrays.
    var index: Int {
        let base = switch version {
        case .v1: 0
        case .v2: 2
        case .v3: 4
        }
        return base + (isCompressed ? 1 : 0)
    }

    /// The kind whose `index` is `index`.
    init(index: Int) {
        self.version = Self.versions[index / 2]
        self.isCompressed = index % 2 == 1
    }

    /// How a broadcast looks on the wire for this kind: v1 and v2 write
    /// every shared event alike (form 0), v3 names the room (form 1).
    var form: Int { version == .v3 ? 1 : 0 }

    /// How many forms there are; `form` is below it.
    static let formCount = 2

    /// The version whose codec writes form `form`.
    static func version(ofForm form: Int) -> ProtocolVersion { form == 0 ? .v1 : .v3 }

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

/// One event framed for every kind of recipient: in each wire form that
/// some recipient needs, as a plain text frame, and compressed when some
/// recipient negotiated compression and it pays off.
struct OutgoingFrames: Sendable {
    /// One framing of the event.
    struct Framing: Sendable {
        let plain: ByteBuffer
        let compressed: ByteBuffer?
    }

    /// By `RecipientKind.form`; nil for a form no recipient needs.
    private let forms: [Framing?]

    /// The same bytes for every form.
    init(plain: ByteBuffer, compressed: ByteBuffer? = nil) {
        let framing = Framing(plain: plain, compressed: compressed)
        self.forms = Array(repeating: framing, count: RecipientKind.formCount)
    }

    /// One framing per form, by `RecipientKind.form`.
    init(forms: [Framing?]) {
        self.forms = forms
    }

    /// The bytes a connection of `kind` gets.
    func bytes(for kind: RecipientKind) -> ByteBuffer {
        let framing = forms[kind.form]!
        return kind.isCompressed ? (framing.compressed ?? framing.plain) : framing.plain
    }
}
