import Foundation

/// The process's own figures in the names Prometheus's client libraries use
/// (`process_cpu_seconds_total`, `process_resident_memory_bytes`, …), read
/// from `/proc` when `/metrics` is scraped, so they cost nothing in between.
///
/// On a system without `/proc` the lines are simply left out.
enum ProcessMetrics {
    /// The exposition text of every figure that could be read.
    static func render() -> String {
        var text = ""
        func gauge(_ name: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(format(value))\n"
        }
        let stat = selfStat()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let stat, stat.count > 21, let user = Double(stat[11]), let system = Double(stat[12]) {
            let name = "process_cpu_seconds_total"
            text += "# HELP \(name) Total user and system CPU time spent in seconds.\n# TYPE \(name) counter\n"
            text += "\(name) \(format((user + system) / ticks))\n"
        }
        gauge("process_resident_memory_bytes", "Resident memory size in bytes.", statusValue("VmRSS:").map { $0 * 1024 })
        gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", statusValue("VmSize:").map { $0 * 1024 })
        gauge("process_open_fds", "Number of open file descriptors.", openFileDescriptors())
        gauge("process_max_fds", "Maximum number of open file descriptors.", maximumFileDescriptors())
        if let stat, stat.count > 19, let started = Double(stat[19]), let bootTime {
            gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", bootTime + started / ticks)
        }
        return text
    }

    /// The fields of `/proc/self/stat` after the command name (field 3 first).
    private static func selfStat() -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let end = stat.lastIndex(of: ")") else {
            return nil
        }
        return stat[stat.index(after: end)...].split(separator: " ")
    }

    /// A value in kB from `/proc/self/status`.
    private static func statusValue(_ key: String) -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) })
        else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
    }

    private static func openFileDescriptors() -> Double? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        return Double(entries.count)
    }

    private static func maximumFileDescriptors() -> Double? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return Double(limit.rlim_cur)
    }

    /// When the machine booted, seconds since the Unix epoch (`btime` in `/proc/stat`).
    private static let bootTime: Double? = {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })
        else { return nil }
        return Double(line.dropFirst("btime ".count))
    }()

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
