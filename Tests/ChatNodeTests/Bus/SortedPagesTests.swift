import TestSupport
import Testing

@testable import ChatNode

@Suite("Sorted pages: a sorted list that changes in place")
struct SortedPagesTests {
    @Test("after any mix of insertions and removals it holds exactly what a sorted array would, in order")
    func matchesASortedArray() {
        var random = SplitMix64(seed: 7)
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
