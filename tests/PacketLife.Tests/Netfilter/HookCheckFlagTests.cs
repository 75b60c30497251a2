using System.Reflection;
using PacketLife.Core.Netfilter;
using PacketLife.Core.Netfilter.Matches;

namespace PacketLife.Tests.Netfilter;

public class HookCheckFlagTests
{
    /// <summary>The table checks call CheckHooks only where ChecksHooks says so: a match type that overrides one must
    /// override the other (the flag replaced a reflection lookup that a trimmed NativeAOT build cannot do).</summary>
    [Fact]
    public void Every_match_type_that_checks_hooks_says_so()
    {
        var types = typeof(Match).Assembly.GetTypes().Where(t => !t.IsAbstract && typeof(Match).IsAssignableFrom(t)).ToList();
        Assert.True(types.Count >= 20, $"only {types.Count} match types found");
        var checkers = new List<string>();
        foreach (var t in types)
        {
            var overrides = t.GetMethod(nameof(Match.CheckHooks), [typeof(IReadOnlyCollection<NetfilterHook>)])!.DeclaringType != typeof(Match);
            var flagged = t.GetProperty("ChecksHooks", BindingFlags.Instance | BindingFlags.NonPublic)!.GetMethod!.DeclaringType != typeof(Match);
            Assert.True(overrides == flagged, $"{t.Name}: overrides CheckHooks {overrides}, overrides ChecksHooks {flagged}");
            if (overrides) checkers.Add(t.Name);
        }
        Assert.Equal(["AddrtypeMatch", "OwnerMatch"], checkers.Order());
    }
}
