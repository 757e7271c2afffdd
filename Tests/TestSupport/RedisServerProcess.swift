import Foundation

/// A private `redis-server` on a free loopback port, started for one test
/// and stopped by it. Tests never touch a Redis they did not start.
public final class RedisServerProcess: @unchecked Sendable {
    // @unchecked: `process` is replaced only by start/stop, which a test calls
    // sequentially from one task.
    /// The port it listens on; kept across restarts.
    public let port: Int
    /// The password it requires, if any.
    public let password: String?
    /// The certificate and key it serves TLS with (then it speaks only TLS), if any.
    public let tls: TestCertificates.Server?
    /// The port of the master this server replicates, if it is a replica.
    public let replicaOf: Int?
    /// Where it keeps an append-only file, so a restart finds its data again; nil for none.
    public let dataDirectory: String?
    /// The addresses it listens on.
    public let bindAddresses: [String]
    /// Further `redis-server` arguments (a cluster node's, say).
    public let extraArguments: [String]
    /// Where a server without a data directory keeps its files. Its own, so a
    /// replica's copy of another server's data (a full sync writes `dump.rdb`)
    /// never lands in the working directory, where any server that starts
    /// "empty" would load it.
    private let scratchDirectory: URL
    private var process: Process?

    /// Starts a server and returns once it listens; `password` turns on
    /// `requirepass`, `tls` makes it speak TLS only, `replicaOf` makes it a
    /// replica of the server on that port. `dataDirectory` makes it persistent
    /// (append-only file, fsync on every write). `bindAddresses` beyond
    /// loopback let other network namespaces reach it.
    public init(
        password: String? = nil, tls: TestCertificates.Server? = nil, replicaOf: Int? = nil, dataDirectory: String? = nil,
        bindAddresses: [String] = ["127.0.0.1"], extraArguments: [String] = []
    ) async throws {
        self.port = try FreePort.find()
        self.extraArguments = extraArguments
        self.scratchDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratchDirectory, withIntermediateDirectories: true)
        self.dataDirectory = dataDirectory
        self.bindAddresses = bindAddresses
        self.password = password
        self.tls = tls
        self.replicaOf = replicaOf
        try await start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: scratchDirectory)
    }

    /// The URL a node or client uses to reach it.
    public var url: String {
        let scheme = tls == nil ? "redis" : "rediss"
        if let password { return "\(scheme)://:\(password)@127.0.0.1:\(port)" }
        return "\(scheme)://127.0.0.1:\(port)"
    }

    /// Starts the server (again) on the same port: empty, or with its data
    /// when persistent. Returns once it listens.
    public func start() async throws {
        let process = Process()
        process.executableURL = try Self.executable()
        var arguments = [
            "--port", String(port), "--bind", bindAddresses.joined(separator: " "), "--save", "", "--appendonly", "no", "--loglevel", "warning",
        ]
        if bindAddresses != ["127.0.0.1"] { arguments += ["--protected-mode", "no"] }
        if let password { arguments += ["--requirepass", password, "--masterauth", password] }
        if let replicaOf { arguments += ["--replicaof", "127.0.0.1", String(replicaOf)] }
        if tls != nil, replicaOf != nil { arguments += ["--tls-replication", "yes"] }
        if let dataDirectory {
            arguments += ["--dir", dataDirectory, "--appendonly", "yes", "--appendfsync", "always"]
        } else {
            // Empty means empty: not even what a full sync left here last time.
            try? FileManager.default.removeItem(at: scratchDirectory.appendingPathComponent("dump.rdb"))
            arguments += ["--dir", scratchDirectory.path]
        }
        if let tls {
            arguments[1] = "0"
            arguments += [
                "--tls-port", String(port), "--tls-cert-file", tls.certificate, "--tls-key-file", tls.key,
                "--tls-ca-cert-file", tls.authority, "--tls-auth-clients", "no",
            ]
        }
        process.arguments = arguments + extraArguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        try await waitUntilListening()
    }

    /// Stops the server and waits for it to exit.
    public func stop() {
        guard let process else { return }
        self.process = nil
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            // Poll instead of `waitUntilExit`, which spins a run loop on the
            // calling thread: tests call this from the threads their tasks share.
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning, Date() < deadline { usleep(5_000) }
        }
    }

    /// The process id while running.
    public var processIdentifier: Int32? { process?.processIdentifier }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered.
    public func pause() {
        // Once the process has been reaped its id may belong to another test's process.
        if let process, process.isRunning { kill(process.processIdentifier, SIGSTOP) }
    }

    /// Lets a paused server go on (SIGCONT).
    public func resume() {
        if let process, process.isRunning { kill(process.processIdentifier, SIGCONT) }
    }

    /// Sleeps between checks rather than blocking: dozens of tests start
    /// servers at once, and a blocked thread is one of the few that run every
    /// test's async code (a blocking poll here once stalled them all for seconds).
    private func waitUntilListening() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if FreePort.isListening(port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportError("redis-server did not start listening on port \(port)")
    }

    static func executable() throws -> URL {
        for path in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        throw TestSupportError("redis-server is not installed; run ./scripts/test.sh, which installs it")
    }
}

/// A failure of the test harness itself, not of the code under test.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
