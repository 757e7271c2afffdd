import ChatProtocol
import Foundation
import Synchronization
import TestSupport
import Testing

/// PROTOCOL.md §5, Resume: gapless across the death of a client's node.
@Suite("Resume under load")
struct ResumeUnderLoadTests {
    private static let v2 = "chat.v2.json"

    /// Every message id `client` receives until its connection ends or it is quiet for `quiet`.
    private static func messageIDs(_ client: WebSocketTestClient, quiet: Duration) async -> [String] {
        var ids: [String] = []
        while let event = await client.next(timeout: quiet) {
            guard case .text(let text) = event else {
                if case .disconnected = event { break }
                continue
            }
            guard case .object(let object) = try? JSONParser.parse(text) else { continue }
            if object.string("type") == "message", let id = object.string("id") { ids.append(id) }
        }
        return ids
    }


    @Test("clients of a node killed while 10 senders send 10 lines a second each resume elsewhere missing and repeating nothing")
    func nodeKilledMidConversation() async throws {
        try await withCluster(nodes: 2, { $0.nodeTTL = .seconds(1) }) { cluster in
            let victim = try NodeProcess(arguments: ["--port", "0", "--redis", cluster.redis.url, "--node-ttl", "1", "--node-id", "victim"])
            let victimPort = try await victim.waitUntilListening()
            let (reference, _) = try await cluster.nodes[0].join("reference", subprotocol: Self.v2)
            var readers: [WebSocketTestClient] = []
            for index in 0..<5 {
                let reader = try await WebSocketTestClient.connect(port: victimPort, subprotocols: [Self.v2])
                try await reader.send(#"{"type":"hello","nick":"reader\#(index)"}"#)
                #expect(await reader.next(ofType: "welcome") != nil)
                readers.append(reader)
            }
            var senders: [WebSocketTestClient] = []
            for index in 0..<10 {
                senders.append(try await cluster.nodes[index % 2].join("sender\(index)", subprotocol: Self.v2).0)
            }

            let sending = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, sender) in senders.enumerated() {
                        group.addTask {
                            for line in 0..<40 {
                                try await sender.send(#"{"type":"say","text":"\#(index)-\#(line)"}"#)
                                try await Task.sleep(for: .milliseconds(100))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let resumed = Outcomes()
            let ports = cluster.nodes.map(\.port)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, reader) in readers.enumerated() {
                    group.addTask {
                        let before = await Self.messageIDs(reader, quiet: .seconds(30))
                        // Reconnect elsewhere; the old nick is free once the dead node is reaped.
                        for attempt in 0..<60 {
                            let port = ports[attempt % 2]
                            let client = try await WebSocketTestClient.connect(port: port, subprotocols: [Self.v2])
                            let since = before.last.map { #","since":"\#($0)""# } ?? ""
                            try await client.send(#"{"type":"hello","nick":"reader\#(index)"\#(since)}"#)
                            guard let welcome = await client.nextMessage(), welcome.string("type") == "welcome" else {
                                await client.disconnect()
                                try await Task.sleep(for: .milliseconds(200))
                                continue
                            }
                            let live = await Self.messageIDs(client, quiet: .seconds(3))
                            resumed.value.withLock {
                                $0.append(Outcome(before: before, after: welcome.historyIDs + live, resumed: welcome["resumed"] == .bool(true)))
                            }
                            return
                        }
                        Issue.record("reader\(index) could not rejoin")
                    }
                }
                try await Task.sleep(for: .milliseconds(1500))
                victim.signal(SIGKILL)
                try await group.waitForAll()
            }
            try await sending.value
            let all = await Self.messageIDs(reference, quiet: .seconds(1))
            #expect(all.count == 400)
            let outcomes = resumed.value.withLock { $0 }
            #expect(outcomes.count == 5)
            for outcome in outcomes {
                #expect(outcome.resumed)
                #expect(!outcome.before.isEmpty && outcome.before.count < 400, "the node died mid-conversation")
                #expect(outcome.before + outcome.after == all, "missed or repeated lines")
            }
            print("resume under load: 400 lines from 10 senders; readers saw \(outcomes.map(\.before.count)) before the kill, then exactly the rest")
        }
    }
}

/// What one reader saw: before its node died, then after it resumed.
private struct Outcome: Sendable {
    var before: [String]
    var after: [String]
    var resumed: Bool
}

private final class Outcomes: Sendable {
    let value = Mutex<[Outcome]>([])
}
