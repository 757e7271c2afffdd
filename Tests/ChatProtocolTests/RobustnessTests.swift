import ChatProtocol
import Testing

@Suite("Robustness against arbitrary input")
struct RobustnessTests {
    @Test("random bytes and mutated frames never crash the decoder and always get an answer")
    func randomInput() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [#"{"type":"say","text":"hi","ref":"r"}"#, #"{"type":"whisper","to":"a","text":"\u00e9\ud83d\ude00"}"#, "[1,2.5e3,null]"]
        for round in 0..<5_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                bytes = Array(seeds[round % seeds.count].utf8)
                for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            let frame = ChatV1Codec.decode(bytes)
            if case .success = frame.message {
                // Anything accepted must re-encode as valid JSON when echoed.
                #expect(frame.ref.map(Ref.isValid) ?? true)
            }
        }
    }
}
