/// The rules for the optional `ref` a client attaches to correlate replies.
public enum Ref {
    /// A `ref` is a string of at most 64 Unicode scalars.
    public static let maximumLength = 64

    /// Whether `ref` is acceptable.
    public static func isValid(_ ref: String) -> Bool {
        ref.unicodeScalars.hasAtMost(maximumLength)
    }
}

extension String.UnicodeScalarView {
    /// Whether there are at most `limit` scalars, counting no further than `limit + 1`.
    func hasAtMost(_ limit: Int) -> Bool {
        var count = 0
        for _ in self {
            count += 1
            if count > limit { return false }
        }
        return true
    }
}
