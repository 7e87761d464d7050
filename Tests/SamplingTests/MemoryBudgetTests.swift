// The memory budget: the process's limit read from /proc/meminfo and the cgroup files, the UNet rows
// per call and the tiled-decode decision that follow from it at SD 1.5 size, and the split of a
// step's rows into several UNet calls, which must change nothing in the images (a row's result does
// not depend on the rows beside it).
import Foundation
import Sampling
import Testing
import TestSupport
@testable import Sampling
import Weights

@Suite("Memory budget")
struct MemoryBudgetTests {
    @Test("the limit is MemTotal or the cgroup's, whichever is lower")
    func processLimit() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:        1000 kB\n"
        #expect(MemoryBudget.limit(meminfo: meminfo, cgroupV2Max: nil, cgroupV1Limit: nil) == 24_576_000 * 1024)
        #expect(MemoryBudget.limit(meminfo: meminfo, cgroupV2Max: "max\n", cgroupV1Limit: nil) == 24_576_000 * 1024)
        #expect(MemoryBudget.limit(meminfo: meminfo, cgroupV2Max: "8589934592\n", cgroupV1Limit: nil) == 8 << 30)
        // cgroup v1 reports "no limit" as a number near 2^63.
        #expect(MemoryBudget.limit(meminfo: meminfo, cgroupV2Max: nil, cgroupV1Limit: "9223372036854771712") == 24_576_000 * 1024)
        #expect(MemoryBudget.limit(meminfo: meminfo, cgroupV2Max: nil, cgroupV1Limit: "4294967296") == 4 << 30)
        #expect(MemoryBudget.cgroupFile("0::/system.slice/dbrenderd.service\n", name: "memory.max")
                == "/sys/fs/cgroup/system.slice/dbrenderd.service/memory.max")
        #expect(MemoryBudget.cgroupFile("0::/\n", name: "memory.max") == "/sys/fs/cgroup/memory.max")
        #expect(MemoryBudget.processLimitBytes() > 0)
    }

    @Test("SD 1.5: about 150 MB a UNet row at 512 px, four times that at 1024 px; the VAE tiles only past its budget")
    func sd15Estimates() {
        let perRow = MemoryBudget.unetRowBytes(.sd15, latentHeight: 64, latentWidth: 64)
        #expect((140_000_000...170_000_000).contains(perRow), "\(perRow)")
        let large = MemoryBudget.unetRowBytes(.sd15, latentHeight: 128, latentWidth: 128)
        #expect(large == 4 * perRow || abs(large - 4 * perRow) < perRow / 10)
        let budget = MemoryBudget(bytes: 12 << 30)
        // The largest default request, 32 guided rows at 1024 px, runs as calls of at most 20 rows.
        #expect(budget.unetRows(.sd15, latentHeight: 128, latentWidth: 128) == (12 << 30) / large)
        #expect(budget.unetRows(.sd15, latentHeight: 128, latentWidth: 128, cap: 8) == 8)
        #expect(MemoryBudget(bytes: 0).unetRows(.sd15, latentHeight: 128, latentWidth: 128) == 1)
        #expect(!budget.needsTiledDecode(.sd15, height: 1024, width: 1024))
        #expect(MemoryBudget(bytes: 2 << 30).needsTiledDecode(.sd15, height: 1024, width: 1024))
        #expect(!MemoryBudget(bytes: 2 << 30).needsTiledDecode(.sd15, height: 512, width: 512))
    }

    @Test("a step split into one UNet call per image gives the same bytes as one call")
    func splitIsInvisible() throws {
        let pipeline = try StableDiffusionPipeline.load(Fixtures.packageRoot.appendingPathComponent("models/tiny"))
        var request = RenderRequest(prompt: "a photo of sks dog", seed: 3)
        request.count = 3
        request.steps = 3
        request.sampler = "euler_a"
        request.width = 64
        request.height = 64
        let together = try pipeline.makeJobs(for: request), apart = try pipeline.makeJobs(for: request)
        while !together.allSatisfy(\.isFinished) { pipeline.denoiser.step(together) }
        while !apart.allSatisfy(\.isFinished) { pipeline.denoiser.step(apart, maximumRows: 2) }
        for (a, b) in zip(together, apart) { #expect(a.latents.scalars == b.latents.scalars) }
        // Odd bounds too: a job's two rows never part.
        let odd = try pipeline.makeJobs(for: request)
        while !odd.allSatisfy(\.isFinished) { pipeline.denoiser.step(odd, maximumRows: 3) }
        for (a, b) in zip(together, odd) { #expect(a.latents.scalars == b.latents.scalars) }
    }
}
