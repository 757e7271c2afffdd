import ArgumentParser
import ChatNode
import Foundation
import Logging
import ServiceLifecycle

// `chat-node`: parse flags, then run the node. Errors are one line on
// standard error and a non-zero exit; never a usage dump or a stack trace.

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("chat-node: \(message)\n".utf8))
    exit(1)
}

/// Parses `arguments`; `--help` and `--version` print and exit 0, a bad flag is one line and exit 1.
func parseOrExit<Command: ParsableCommand>(_: Command.Type, _ arguments: [String]) -> Command {
    do {
        return try Command.parse(arguments)
    } catch {
        if Command.exitCode(for: error) == .success {
            print(Command.fullMessage(for: error))
            exit(0)
        }
        let message = Command.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        fail(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message)
    }
}

// `chat-node ready [PORT]`: a health check for containers (exit 0 when /readyz is 200).
if CommandLine.arguments.dropFirst().first == "ready" {
    let port = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) }
        ?? ProcessInfo.processInfo.environment["CHAT_PORT"].flatMap { Int($0) } ?? 8080
    exit(ReadinessProbe.run(port: port))
}

// `chat-node token …`: prints a login token (§7) and exits.
if CommandLine.arguments.dropFirst().first == "token" {
    let tokenCommand = parseOrExit(TokenCommand.self, Array(CommandLine.arguments.dropFirst(2)))
    do {
        print(try await tokenCommand.token())
        exit(0)
    } catch let error as LoginKeyError {
        fail(error.message)
    } catch {
        fail("could not make the token")
    }
}

let command = parseOrExit(ChatNodeCommand.self, Array(CommandLine.arguments.dropFirst()))

let configuration: NodeConfiguration
do {
    configuration = try command.settings.resolve(environment: ProcessInfo.processInfo.environment)
} catch {
    fail(error.message)
}

let logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
LoggingSystem.bootstrap { label in
    switch configuration.logFormat {
    case .text:
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = logLevel
        return handler
    case .json:
        var handler = JSONLogHandler(label: label)
        handler.logLevel = logLevel
        return handler
    }
}
var logger = Logger(label: "chat-node")
logger[metadataKey: "node"] = "\(configuration.nodeID)"

do {
    let server = try await ChatNodeServer(configuration: configuration, logger: logger) { host, port in
        // Unbuffered, so a supervisor reading the pipe sees it at once.
        FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
    }
    let group = ServiceGroup(
        configuration: .init(
            services: server.services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
    )
    try await group.run()
    logger.info("stopped")
} catch let error as NodeStartupError {
    fail(error.message)
} catch {
    fail(StartupFailure.describe(error, configuration: configuration))
}
exit(0)
