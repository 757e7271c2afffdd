import Foundation

/// A command-line tool run to completion (docker-compose, haproxy, ip, …),
/// found on `PATH` with the system directories added, its output captured.
public enum ExternalCommand {
    /// Runs `arguments` (the tool first) in `directory`, or the current one;
    /// returns the exit status and standard output and error together. The
    /// blocking wait happens on a thread of its own, so a tool that takes
    /// seconds (`redis-cli --cluster create`) holds none of the few threads
    /// that run every test's async code.
    public static func run(_ arguments: [String], in directory: URL? = nil) async throws -> (status: Int32, output: String) {
        let (process, output) = try start(arguments, in: directory)
        return await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(returning: finish(process, output))
            }.start()
        }
    }

    /// `run` for synchronous code (clean-up in a `deinit`): blocks the calling thread.
    public static func runWaiting(_ arguments: [String], in directory: URL? = nil) throws -> (status: Int32, output: String) {
        let (process, output) = try start(arguments, in: directory)
        return finish(process, output)
    }

    private static func start(_ arguments: [String], in directory: URL?) throws -> (Process, FileHandle) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        return (process, pipe.fileHandleForReading)
    }

    private static func finish(_ process: Process, _ output: FileHandle) -> (status: Int32, output: String) {
        let data = output.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
