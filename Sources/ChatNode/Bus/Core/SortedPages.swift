/// Elements kept in ascending order in pages of at most `2 × pageSize`, so
/// an insertion or a removal costs a binary search over the pages, one in
/// the page, and moving part of one page, and the first elements are read
/// without looking at the rest.
struct SortedPages<Element: Comparable> {
    /// A page is split beyond twice this and merged with the next below a quarter of it.
    static var pageSize: Int { 128 }

    private var pages: [[Element]] = []

    /// How many elements are kept.
    private(set) var count = 0

    /// Inserts `element` (kept once per insertion, like an array).
    mutating func insert(_ element: Element) {
        count += 1
        guard !pages.isEmpty else {
            pages = [[element]]
            return
        }
        let page = page(for: element)
        pages[page].insert(element, at: Self.firstIndex(notBelow: element, in: pages[page]))
        if pages[page].count > 2 * Self.pageSize {
            let upper = Array(pages[page][Self.pageSize...])
            pages[page].removeSubrange(Self.pageSize...)
            pages.insert(upper, at: page + 1)
        }
    }

    /// Removes one `element`; false when none is kept.
    @discardableResult
    mutating func remove(_ element: Element) -> Bool {
        guard !pages.isEmpty else { return false }
        let page = page(for: element)
        let index = Self.firstIndex(notBelow: element, in: pages[page])
        guard index < pages[page].count, pages[page][index] == element else { return false }
        count -= 1
        pages[page].remove(at: index)
        if pages[page].isEmpty {
            pages.remove(at: page)
        } else if pages[page].count < Self.pageSize / 4, page + 1 < pages.count, pages[page].count + pages[page + 1].count <= 2 * Self.pageSize {
            // Churn must not leave many tiny pages behind: the page list would grow with it.
            pages[page].append(contentsOf: pages[page + 1])
            pages.remove(at: page + 1)
        }
        return true
    }

    /// The first `limit` elements, in order.
    func prefix(_ limit: Int) -> [Element] {
        var first: [Element] = []
        first.reserveCapacity(min(limit, count))
        for page in pages {
            guard first.count < limit else { break }
            first.append(contentsOf: page.prefix(limit - first.count))
        }
        return first
    }

    /// Every element, in order.
    var all: [Element] { pages.flatMap { $0 } }

    /// The page that holds, or would hold, `element`: the first whose last element is not below it.
    private func page(for element: Element) -> Int {
        var low = 0
        var high = pages.count
        while low < high {
            let middle = (low + high) / 2
            if pages[middle].last! < element { low = middle + 1 } else { high = middle }
        }
        return min(low, pages.count - 1)
    }

    private static func firstIndex(notBelow element: Element, in page: [Element]) -> Int {
        var low = 0
        var high = page.count
        while low < high {
            let middle = (low + high) / 2
            if page[middle] < element { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
