using PacketLife.App.Cli;

namespace PacketLife.Tests.Cli;

public class CommandMemoryTests
{
    const long MB = 1 << 20;
    const long GB = 1L << 30;

    [Theory]
    // state file, memory the GC may use → region size (0: none)
    [InlineData(60 * 1024, 16 * GB, 0)]          // the seed's cluster: collections cost nothing worth a region
    [InlineData(MB - 1, 16 * GB, 0)]
    [InlineData(2 * MB, 16 * GB, 80 * MB)]        // 40 bytes per state byte
    [InlineData(24 * MB, 23 * GB, 960 * MB)]      // the 500-node cluster of the trace-all bench
    [InlineData(24 * MB, 2 * GB, 512 * MB)]       // never more than a quarter of memory
    [InlineData(24 * MB, 200 * MB, 0)]            // a quarter of memory is under the smallest useful region
    [InlineData(500 * MB, 64 * GB, 4 * GB)]       // capped
    public void Region_size_follows_the_state_file_within_limits(long stateBytes, long available, long expected)
    {
        Assert.Equal(expected == 0 ? null : expected, CommandMemory.Budget(stateBytes, available));
    }
}
