/// The rules for `since`, the message id a v2 client resumes after.
public enum ResumePoint {
    /// `since` is a string of 1 to 64 Unicode scalars.
    public static let maximumLength = 64

    /// Whether `since` is acceptable (an unknown id is acceptable; it just does not resume).
    public static func isValid(_ since: String) -> Bool {
        !since.isEmpty && since.unicodeScalars.hasAtMost(maximumLength)
    }
}
