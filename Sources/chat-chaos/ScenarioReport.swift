/// What one scenario did and found: printed as one line.
struct ScenarioReport: Sendable {
    /// One promise of PROTOCOL.md checked with a measured figure.
    struct Invariant: Sendable {
        var name: String
        var measured: String
        var holds: Bool
    }

    var scenario: String
    var load: String
    var fault: String
    var invariants: [Invariant] = []
    /// Why the scenario could not run on this machine, if it could not.
    var skipped: String?

    var passed: Bool { skipped != nil || (invariants.allSatisfy(\.holds) && !invariants.isEmpty) }

    /// Marks the scenario as not runnable here, saying why.
    mutating func skip(_ reason: String) {
        skipped = reason
    }

    /// Records an invariant: `holds` decides, `measured` says what was seen.
    mutating func check(_ name: String, _ holds: Bool, _ measured: String) {
        invariants.append(Invariant(name: name, measured: measured, holds: holds))
    }

    /// `PASS scenario | load | fault | name: measured ✓; …`
    var line: String {
        if let skipped { return "SKIP \(scenario) | \(skipped)" }
        let checks = invariants.map { "\($0.name): \($0.measured) \($0.holds ? "ok" : "FAILED")" }.joined(separator: "; ")
        return "\(passed ? "PASS" : "FAIL") \(scenario) | load: \(load) | fault: \(fault) | \(checks)"
    }
}

/// Seconds with two decimals, for reports.
func seconds(_ duration: Duration) -> String {
    let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return String(format: "%.2f s", value)
}

/// Runs `body` for every element with at most `width` running at once.
func forEachConcurrently<T: Sendable>(_ elements: [T], width: Int = 64, _ body: @escaping @Sendable (T) async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        var iterator = elements.makeIterator()
        for _ in 0..<width {
            guard let element = iterator.next() else { break }
            group.addTask { await body(element) }
        }
        while await group.next() != nil {
            if let element = iterator.next() { group.addTask { await body(element) } }
        }
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes; returns how long it took.
func waitFor(timeout: Duration, _ condition: () async -> Bool) async -> Duration? {
    let started = ContinuousClock.now
    while ContinuousClock.now - started < timeout {
        if await condition() { return ContinuousClock.now - started }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return nil
}
