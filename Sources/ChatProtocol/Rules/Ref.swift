/// The rules for the optional `ref` a client attaches to correlate replies.
public enum Ref {
    /// A `ref` is a string of at most 64 Unicode scalars.
    public static let maximumLength = 64

    /// Whether `ref` is acceptable.
    public static func isValid(_ ref: String) -> Bool {
        var count = 0
        for _ in ref.unicodeScalars {
            count += 1
            if count > maximumLength { return false }
        }
        return true
    }
}
