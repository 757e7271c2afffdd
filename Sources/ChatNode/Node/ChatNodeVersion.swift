/// The version `chat-node --version` prints.
public enum ChatNodeVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
