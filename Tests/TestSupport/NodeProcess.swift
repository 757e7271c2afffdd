import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The real `chat-node` executable, run as a child process by a test.
public final class NodeProcess: Sendable {
    /// What a finished process printed and how it exited.
    public struct Outcome: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    private let process: Process
    private let stdoutLines = EventQueue<String>()
    private let output = Mutex<(stdout: String, stderr: String)>(("", ""))
    private let finished = EventQueue<Int32>()

    /// The executable built next to the test bundle.
    public static var executableURL: URL {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0])
        var directory = testBinary.deletingLastPathComponent()
        // `swift test` runs `<bin>/<package>PackageTests.xctest`.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("chat-node").path), directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("chat-node")
    }

    /// Starts `chat-node` with `arguments`; `environment` is added to a clean one.
    /// `launcher` runs it through another command, e.g. `ip netns exec NAME`.
    public init(arguments: [String], environment: [String: String] = [:], launcher: [String] = []) throws {
        let process = Process()
        if let command = launcher.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = Array(launcher.dropFirst()) + [Self.executableURL.path] + arguments
        } else {
            process.executableURL = Self.executableURL
            process.arguments = arguments
        }
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].merging(environment) { $1 }
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        self.process = process
        let lines = stdoutLines
        Self.read(stdout.fileHandleForReading) { [weak self] text in
            self?.output.withLock { $0.stdout += text }
            for line in text.split(separator: "\n") { lines.push(String(line)) }
        }
        Self.read(stderr.fileHandleForReading) { [weak self] text in
            self?.output.withLock { $0.stderr += text }
        }
        let finished = self.finished
        process.terminationHandler = { process in finished.push(process.terminationStatus) }
        try process.run()
    }

    /// Reads `handle` to its end on a thread of its own, handing each chunk
    /// to `received`, then closes it. Not `readabilityHandler`: tearing down
    /// its dispatch read source when a child exits intermittently crashes
    /// libdispatch on Linux (`_dispatch_event_loop_drain`, a dangling epoll
    /// registration), which takes the whole test process down.
    private static func read(_ handle: FileHandle, _ received: @escaping @Sendable (String) -> Void) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    received(String(decoding: buffer[..<count], as: UTF8.self))
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            try? handle.close()
        }
        thread.start()
    }

    /// Waits for `listening on http://HOST:PORT` and returns the port.
    public func waitUntilListening(timeout: Duration = .seconds(20)) async throws -> Int {
        while let line = await stdoutLines.next(timeout: timeout) {
            if line.hasPrefix("listening on http://"), let port = line.split(separator: ":").last.flatMap({ Int($0) }) {
                return port
            }
        }
        throw TestSupportError("chat-node did not print its listening line; stderr: \(output.withLock { $0.stderr })")
    }

    /// The process id, for sampling its memory and file descriptors.
    public var processIdentifier: Int32 { process.processIdentifier }

    /// Whether the process is still running.
    public var isRunning: Bool { process.isRunning }

    /// Sends a signal, e.g. `SIGTERM` or `SIGKILL`.
    public func signal(_ signal: Int32) {
        // Once the process has been reaped its id may belong to another test's process.
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit; kills it if it outlives `timeout`.
    public func waitForExit(timeout: Duration = .seconds(20)) async -> Outcome {
        let status: Int32
        if let exited = await finished.next(timeout: timeout) {
            status = exited
        } else {
            signal(SIGKILL)
            status = await finished.next(timeout: .seconds(5)) ?? -1
        }
        // Let the pipes drain.
        try? await Task.sleep(for: .milliseconds(100))
        let (stdout, stderr) = output.withLock { ($0.stdout, $0.stderr) }
        return Outcome(status: status, stdout: stdout, stderr: stderr)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
