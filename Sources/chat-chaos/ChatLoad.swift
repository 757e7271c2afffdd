/// Steady chat from a set of senders: each says numbered lines (`nick#1`,
/// `nick#2`, …) at a fixed rate, so receivers can check order and gaps.
struct ChatLoad: Sendable {
    let senders: [ChaosClient]
    /// Lines per second per sender (under the default rate limit of 10/s).
    var rate: Double = 4

    /// Sends for `duration`, all senders at once; returns how many lines each attempted.
    func run(for duration: Duration) async -> [String: Int] {
        await withTaskGroup(of: (String, Int).self) { group in
            for sender in senders {
                group.addTask {
                    var sent = 0
                    let interval = Duration.milliseconds(Int64(1000 / rate))
                    let end = ContinuousClock.now + duration
                    while ContinuousClock.now < end {
                        sent += 1
                        guard await sender.say("\(sender.nick)#\(sent)") else { break }
                        try? await Task.sleep(for: interval)
                    }
                    return (sender.nick, sent)
                }
            }
            var attempts: [String: Int] = [:]
            for await (nick, sent) in group { attempts[nick] = sent }
            return attempts
        }
    }

    /// For each receiver, how many senders' streams it saw differently from
    /// what the sender itself saw come back (a missing, repeated or reordered line).
    static func mismatches(receivers: [ChaosClient], senders: [ChaosClient]) async -> (streams: Int, broken: Int) {
        var truth: [String: [String]] = [:]
        for sender in senders { truth[sender.nick] = await sender.transcript.lines(from: sender.nick) }
        var streams = 0
        var broken = 0
        for receiver in receivers where !senders.contains(where: { $0 === receiver }) {
            for sender in senders {
                streams += 1
                if await receiver.transcript.lines(from: sender.nick) != truth[sender.nick] { broken += 1 }
            }
        }
        return (streams, broken)
    }
}

extension ChaosClient {
    /// Joins one client per `(port, nick, subprotocol)`, `width` handshakes at a time, in order.
    static func joinAll(
        _ specs: [(port: Int, nick: String, subprotocol: String)], width: Int = 50, receiveBufferBytes: Int? = nil
    ) async throws -> [ChaosClient] {
        let joined = JoinedClients()
        await forEachConcurrently(Array(specs.enumerated()), width: width) { indexed in
            let (index, spec) = indexed
            do {
                await joined.add(
                    index,
                    try await ChaosClient.join(port: spec.port, nick: spec.nick, subprotocol: spec.subprotocol, receiveBufferBytes: receiveBufferBytes)
                )
            } catch {
                await joined.fail("\(error)")
            }
        }
        return try await joined.all(count: specs.count)
    }
}

/// Clients joined concurrently, kept by index.
private actor JoinedClients {
    var clients: [Int: ChaosClient] = [:]
    var failures: [String] = []

    func add(_ index: Int, _ client: ChaosClient) { clients[index] = client }
    func fail(_ reason: String) { failures.append(reason) }

    func all(count: Int) throws -> [ChaosClient] {
        guard failures.isEmpty else { throw ChaosFailure("\(failures.count) clients could not join; first: \(failures[0])") }
        return (0..<count).map { clients[$0]! }
    }
}
