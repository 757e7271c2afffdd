import Foundation

/// Wall-clock time as the protocol's `ts` fields carry it.
enum Clock {
    /// Milliseconds since the Unix epoch.
    static func milliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
