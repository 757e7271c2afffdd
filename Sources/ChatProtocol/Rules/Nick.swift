import Foundation

/// A valid nick: its canonical (NFC) spelling and the key it is unique by.
///
/// Two nicks clash when their keys are equal, so `Åsa` and `åsa` cannot both
/// be online. The key is the NFC form mapped to lowercase, which is exactly
/// what PROTOCOL.md's "case-insensitive" means.
public struct Nick: Sendable, Hashable, CustomStringConvertible {
    /// The canonical spelling every event carries.
    public let canonical: String
    /// The identity used for uniqueness and lookups.
    public let key: NickKey

    /// Nicks are 1...24 Unicode scalars after NFC normalisation.
    public static let maximumLength = 24

    /// Validates `raw` and returns the canonical nick, or `nil` when it breaks a rule.
    public init?(validating raw: String) {
        let canonical = raw.precomposedStringWithCanonicalMapping
        guard Self.isValidCanonical(canonical) else { return nil }
        self.canonical = canonical
        self.key = NickKey(normalized: canonical)
    }

    /// Rebuilds a nick that another node or the store already validated.
    public init(trustedCanonical canonical: String) {
        self.canonical = canonical
        self.key = NickKey(normalized: canonical)
    }

    public var description: String { canonical }

    private static func isValidCanonical(_ nick: String) -> Bool {
        var count = 0
        for scalar in nick.unicodeScalars {
            count += 1
            guard count <= maximumLength else { return false }
            let allowed = count == 1 ? isAllowedFirst(scalar) : isAllowedLater(scalar)
            guard allowed else { return false }
        }
        return count >= 1
    }

    private static func isAllowedFirst(_ scalar: Unicode.Scalar) -> Bool {
        isLetter(scalar) || scalar.properties.generalCategory == .decimalNumber
    }

    private static func isAllowedLater(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "_", "-", ".": return true
        default: break
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber:
            return true
        default:
            return false
        }
    }

    private static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
}

/// The case-insensitive identity of a nick, used for uniqueness and lookups.
///
/// Its `Comparable` order is the protocol's list order: Unicode code points
/// of the key.
public struct NickKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The key's text: NFC, then full lowercase mapping.
    public let value: String

    /// The key of any string, normalising it first; a whisper's `to` is looked up this way.
    public init(lookingUp raw: String) {
        if let ascii = Self.asciiKey(raw) {
            self.init(storedValue: ascii)
        } else {
            self.init(normalized: raw.precomposedStringWithCanonicalMapping)
        }
    }

    init(normalized nfc: String) {
        if let ascii = Self.asciiKey(nfc) {
            self.value = ascii
            return
        }
        // Lowercasing can leave a non-NFC sequence (U+0130 → i + U+0307), so
        // normalise again: keys are compared as bytes in Redis.
        self.value = nfc.lowercased().precomposedStringWithCanonicalMapping
    }

    /// The key of an ASCII string without Foundation's normalisation, which
    /// costs microseconds a nick (every node keys every joining user): ASCII
    /// is NFC already, and its full lowercase mapping is A–Z to a–z. Nil for
    /// any other string.
    private static func asciiKey(_ text: String) -> String? {
        let key: String?? = text.utf8.withContiguousStorageIfAvailable { bytes in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            guard bytes.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else { return text }
            return String(unsafeUninitializedCapacity: bytes.count) { output in
                for (index, byte) in bytes.enumerated() {
                    output[index] = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
                }
                return bytes.count
            }
        }
        // A string without contiguous UTF-8 takes the general path.
        return key ?? nil
    }

    /// The key of `server`, the sender of the server API's lines (§7): no user may take it.
    public static let server = NickKey(storedValue: "server")

    /// Rebuilds a key read back from the store.
    public init(storedValue: String) {
        self.value = storedValue
    }

    public var description: String { value }

    // Keys are compared and hashed as UTF-8 bytes: byte order is code-point
    // order, and equal scalars are equal bytes (String's own `==` would
    // also equate canonically equivalent keys, and is slower).

    public static func < (lhs: NickKey, rhs: NickKey) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }

    public static func == (lhs: NickKey, rhs: NickKey) -> Bool {
        let (left, right) = (lhs.value.utf8, rhs.value.utf8)
        guard left.count == right.count else { return false }
        let fast: Bool?? = left.withContiguousStorageIfAvailable { leftBytes in
            right.withContiguousStorageIfAvailable { rightBytes in
                leftBytes.elementsEqual(rightBytes)
            }
        }
        return (fast ?? nil) ?? left.elementsEqual(right)
    }

    public func hash(into hasher: inout Hasher) {
        let bytes = value.utf8
        hasher.combine(bytes.count)
        if bytes.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
            for byte in bytes { hasher.combine(byte) }
        }
    }
}

extension Array where Element == String {
    /// Sorts canonical nicks the way every `users` list is sorted: by key in
    /// code-point order, ties by the canonical nick's code points.
    public func sortedAsUserList() -> [String] {
        map { (NickKey(normalized: $0), $0) }
            .sorted { lhs, rhs in
                if lhs.0 != rhs.0 { return lhs.0 < rhs.0 }
                return lhs.1.unicodeScalars.lexicographicallyPrecedes(rhs.1.unicodeScalars)
            }
            .map(\.1)
    }
}
