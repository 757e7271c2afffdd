import Testing

@testable import ChatNode

@Suite("Sorted pages: a sorted list that changes in place")
struct SortedPagesTests {
    /// A deterministic generator, so a failure can be replayed.
    private struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("after any mix of insertions and removals it holds exactly what a sorted array would, in order")
    func matchesASortedArray() {
        var random = SplitMix(state: 7)
        var pages = SortedPages<Int>()
        var model: [Int] = []
        // Enough elements for pages to split, and removals enough for them to empty and merge.
        for step in 0..<20_000 {
            let value = Int.random(in: 0..<3_000, using: &random)
            if step < 8_000 || Bool.random(using: &random) {
                pages.insert(value)
                model.insert(value, at: model.firstIndex { $0 >= value } ?? model.count)
            } else {
                let removed = pages.remove(value)
                if let index = model.firstIndex(of: value) {
                    model.remove(at: index)
                    #expect(removed)
                } else {
                    #expect(!removed)
                }
            }
        }
        #expect(pages.count == model.count)
        #expect(pages.all == model)
        #expect(pages.prefix(100) == Array(model.prefix(100)))
        for value in model { pages.remove(value) }
        #expect(pages.count == 0 && pages.all.isEmpty && pages.prefix(5).isEmpty)
    }
}
