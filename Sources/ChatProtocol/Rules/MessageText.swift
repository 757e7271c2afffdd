/// The rules for the text of `say` and `whisper`.
///
/// Text is data, never markup: a valid text is relayed exactly as received.
public enum MessageText {
    /// Texts are 1...2000 Unicode scalars.
    public static let maximumLength = 2000

    /// Whether `text` may be sent: 1...2000 scalars, at least one that is not
    /// White_Space, and no control character (Cc) other than newline and tab.
    public static func isValid(_ text: String) -> Bool {
        var count = 0
        var hasVisible = false
        for scalar in text.unicodeScalars {
            count += 1
            guard count <= maximumLength else { return false }
            let properties = scalar.properties
            if properties.generalCategory == .control && scalar != "\n" && scalar != "\t" {
                return false
            }
            if !properties.isWhitespace { hasVisible = true }
        }
        return count >= 1 && hasVisible
    }
}
