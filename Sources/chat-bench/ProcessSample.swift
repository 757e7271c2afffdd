import Foundation

/// CPU time and resident memory of server processes, read from `/proc`.
struct ProcessSample {
    /// User plus system CPU seconds, summed over the processes.
    var cpuSeconds: Double
    /// Resident set size in bytes, summed over the processes.
    var residentBytes: Int

    static func read(_ pids: [Int32]) -> ProcessSample {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var sample = ProcessSample(cpuSeconds: 0, residentBytes: 0)
        for pid in pids {
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            {
                // Fields after the command name: state is field 3; utime and stime are 14 and 15.
                let fields = stat[stat.index(after: end)...].split(separator: " ")
                if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) {
                    sample.cpuSeconds += (user + system) / ticks
                }
            }
            if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
            {
                sample.residentBytes += kilobytes * 1024
            }
        }
        return sample
    }

    /// Whether the process still exists (and is not a zombie).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let end = stat.lastIndex(of: ")") else {
            return false
        }
        return stat[stat.index(after: end)...].split(separator: " ").first != "Z"
    }
}
