/// How `chat-node` writes its log lines to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's plain text lines, for people.
    case text
    /// One JSON object per line, for log shippers (`JSONLogHandler`).
    case json
}
