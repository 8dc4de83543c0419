/// The three compute tasks of Morabito et al. (seed 003, §V): the average of an integer array,
/// O(n); merge sort, O(n log n); bubble sort, O(n²). The complexities are the point of the
/// experiment, so each is implemented as named, not with the standard library's sort.
enum ComputeTask: String, CaseIterable, Sendable {
    case average
    case mergesort
    case bubblesort

    /// The resource path, `/average`.
    var path: String { "/" + rawValue }

    /// What the task does, for `/.well-known/core` titles and GET.
    var summary: String {
        switch self {
        case .average: "average of an integer array, O(n)"
        case .mergesort: "merge sort of an integer array, O(n log n)"
        case .bubblesort: "bubble sort of an integer array, O(n^2)"
        }
    }

    /// The result as JSON text: a number for the average, an array for the sorts.
    /// `nil` for the average of an empty array, which has none.
    func run(_ numbers: [Int]) -> String? {
        switch self {
        case .average:
            guard let mean = Self.average(numbers) else { return nil }
            return Self.json(mean)
        case .mergesort:
            return Self.json(Self.mergeSort(numbers))
        case .bubblesort:
            return Self.json(Self.bubbleSort(numbers))
        }
    }

    /// The arithmetic mean; the sum is exact while it fits in 64 bits.
    static func average(_ numbers: [Int]) -> Double? {
        guard !numbers.isEmpty else { return nil }
        var sum = 0
        for n in numbers {
            let (s, overflow) = sum.addingReportingOverflow(n)
            if overflow { return numbers.reduce(0.0) { $0 + Double($1) / Double(numbers.count) } }
            sum = s
        }
        return Double(sum) / Double(numbers.count)
    }

    /// Top-down merge sort with one scratch buffer; stable.
    static func mergeSort(_ numbers: [Int]) -> [Int] {
        var a = numbers
        guard a.count > 1 else { return a }
        var scratch = a
        a.withUnsafeMutableBufferPointer { a in
            scratch.withUnsafeMutableBufferPointer { b in
                // Sorts src[lo..<hi] into dst[lo..<hi]; src and dst start with the same contents.
                func sort(_ src: UnsafeMutableBufferPointer<Int>, _ dst: UnsafeMutableBufferPointer<Int>, _ lo: Int, _ hi: Int) {
                    guard hi - lo > 1 else { return }
                    let mid = (lo + hi) / 2
                    sort(dst, src, lo, mid)
                    sort(dst, src, mid, hi)
                    var i = lo, j = mid, k = lo
                    while i < mid && j < hi {
                        if src[j] < src[i] { dst[k] = src[j]; j += 1 } else { dst[k] = src[i]; i += 1 }
                        k += 1
                    }
                    while i < mid { dst[k] = src[i]; i += 1; k += 1 }
                    while j < hi { dst[k] = src[j]; j += 1; k += 1 }
                }
                sort(b, a, 0, a.count)
            }
        }
        return a
    }

    /// Bubble sort, stopping early once a pass swaps nothing.
    static func bubbleSort(_ numbers: [Int]) -> [Int] {
        var a = numbers
        a.withUnsafeMutableBufferPointer { a in
            var end = a.count
            while end > 1 {
                var lastSwap = 0
                for i in 1..<end where a[i] < a[i - 1] {
                    a.swapAt(i, i - 1)
                    lastSwap = i
                }
                end = lastSwap
            }
        }
        return a
    }

    static func json(_ numbers: [Int]) -> String {
        "[" + numbers.map(String.init).joined(separator: ",") + "]"
    }

    /// A JSON number: integral values without a fraction (`2`, not `2.0`).
    static func json(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 9.0e15 { return String(Int(value)) }
        return "\(value)"
    }
}
