import Foundation

/// The version `chat-node --version` prints and `chat_build_info` reports.
public enum ChatNodeVersion {
    /// Semantic version of this build.
    public static let current = "0.2.0"

    /// The commit the binary was built from (`scripts/build-info.sh` records
    /// it before building), or nil for a build that did not record one.
    public static let commit: String? = {
        guard let url = Bundle.module.url(forResource: "BuildInfo/commit", withExtension: nil),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }()

    /// `0.2.0 (commit 1a2b3c4d5e6f)`, or the version alone.
    public static var description: String {
        commit.map { "\(current) (commit \($0))" } ?? current
    }
}
