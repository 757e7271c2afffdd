import Foundation
import Testing
import TestSupport

/// The harness's ports: a Redis that a test stops and starts again must get
/// its port back, so nothing else may be handed that port meanwhile.
@Suite("Ports for the servers tests start")
struct FreePortTests {
    @Test("ports never repeat within a process and lie outside the kernel's ephemeral range")
    func portsAreDistinctAndNotEphemeral() throws {
        let ports = try (0..<200).map { _ in try FreePort.find() }
        #expect(Set(ports).count == ports.count)
        let text = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        let ephemeral = bounds[0]...bounds[1]
        #expect(ports.allSatisfy { !ephemeral.contains($0) })
    }

    @Test("a port handed out is free: nothing listens on it")
    func portIsFree() throws {
        let port = try FreePort.find()
        #expect(!FreePort.isListening(port))
    }
}
