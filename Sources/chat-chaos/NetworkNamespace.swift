import Foundation
import TestSupport

/// A network namespace joined to this one by a veth pair, so a node can run
/// behind a link the scenario cuts with `iptables` (packets dropped, not
/// refused: what a real partition looks like). Needs root, `ip` and `iptables`.
final class NetworkNamespace: @unchecked Sendable {
    // @unchecked: created, cut, healed and removed by one scenario task.
    let name: String
    /// This side of the link (where Redis listens for the isolated node).
    let hostAddress: String
    /// The namespace's side (where the isolated node listens).
    let innerAddress: String
    private let hostInterface: String
    private var rules: [[String]] = []

    /// Whether this machine can make namespaces (root, `ip`, `iptables`).
    static var isAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/iptables")
            && (try? run(["/usr/sbin/ip", "netns", "list"])) != nil
    }

    init() throws {
        let id = Int.random(in: 1...250)
        name = "chaos-\(getpid())-\(id)"
        hostInterface = "chh\(id)x\(getpid() % 10_000)"
        let innerInterface = "chn\(id)x\(getpid() % 10_000)"
        hostAddress = "10.231.\(id).1"
        innerAddress = "10.231.\(id).2"
        try Self.run(["/usr/sbin/ip", "netns", "add", name])
        do {
            try Self.run(["/usr/sbin/ip", "link", "add", hostInterface, "type", "veth", "peer", "name", innerInterface])
            try Self.run(["/usr/sbin/ip", "link", "set", innerInterface, "netns", name])
            try Self.run(["/usr/sbin/ip", "addr", "add", "\(hostAddress)/24", "dev", hostInterface])
            try Self.run(["/usr/sbin/ip", "link", "set", hostInterface, "up"])
            try Self.run(["/usr/sbin/ip", "netns", "exec", name, "ip", "addr", "add", "\(innerAddress)/24", "dev", innerInterface])
            try Self.run(["/usr/sbin/ip", "netns", "exec", name, "ip", "link", "set", innerInterface, "up"])
            try Self.run(["/usr/sbin/ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])
        } catch {
            remove()
            throw error
        }
    }

    deinit {
        remove()
    }

    /// The command prefix that runs a program inside the namespace.
    var launcher: [String] { ["/usr/sbin/ip", "netns", "exec", name] }

    /// Drops every packet between the namespace and `port` on this side, both ways.
    func cut(port: Int) throws {
        rules = [
            ["INPUT", "-i", hostInterface, "-p", "tcp", "--dport", String(port), "-j", "DROP"],
            ["OUTPUT", "-o", hostInterface, "-p", "tcp", "--sport", String(port), "-j", "DROP"],
        ]
        for rule in rules { try Self.run(["/usr/sbin/iptables", "-A"] + rule) }
    }

    /// Lets the packets through again.
    func heal() {
        for rule in rules { _ = try? Self.run(["/usr/sbin/iptables", "-D"] + rule) }
        rules = []
    }

    private func remove() {
        heal()
        _ = try? Self.run(["/usr/sbin/ip", "link", "del", hostInterface])
        _ = try? Self.run(["/usr/sbin/ip", "netns", "del", name])
    }

    @discardableResult
    private static func run(_ arguments: [String]) throws -> String {
        let result = try ExternalCommand.runWaiting(arguments)
        guard result.status == 0 else {
            throw ChaosFailure("\(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return result.output
    }
}
