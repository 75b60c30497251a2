namespace PacketLife.Core.Tracing.Cluster;

/// <summary>Picks one branch where the path forks (an LB backend, a `statistic` rule). Explain mode replays every
/// combination; sample mode draws from a seeded source (DESIGN principle 7).</summary>
public interface IBranchChooser
{
    /// <param name="probabilities">Each branch's probability (they sum to 1).</param>
    /// <param name="hashPick">The branch a deterministic hash picks (the LB's flow hash), if the fork has one.</param>
    int Choose(IReadOnlyList<double> probabilities, int? hashPick = null);
}

/// <summary>Sample mode: the flow hash where there is one, else a draw from the seeded random source.</summary>
public sealed class SampleChooser(Random random) : IBranchChooser
{
    public int Choose(IReadOnlyList<double> probabilities, int? hashPick = null)
    {
        if (hashPick is { } h) return h;
        var x = random.NextDouble();
        for (int i = 0; i < probabilities.Count; i++)
        {
            x -= probabilities[i];
            if (x < 0) return i;
        }
        return probabilities.Count - 1;
    }
}

/// <summary>Explain mode: replays a fixed prefix of choices, takes branch 0 after it, and records every fork so the
/// enumerator can visit the other branches (depth first).</summary>
internal sealed class ReplayChooser(IReadOnlyList<int> prefix) : IBranchChooser
{
    public List<(int Chosen, IReadOnlyList<double> Probabilities)> Decisions { get; } = [];
    public double Probability { get; private set; } = 1;

    public int Choose(IReadOnlyList<double> probabilities, int? hashPick = null)
    {
        var k = Decisions.Count;
        var c = k < prefix.Count ? prefix[k] : FirstNonZero(probabilities);
        Decisions.Add((c, probabilities));
        Probability *= probabilities[c];
        return c;
    }

    static int FirstNonZero(IReadOnlyList<double> p)
    {
        for (int i = 0; i < p.Count; i++) if (p[i] > 0) return i;
        return 0;
    }

    /// <summary>Runs <paramref name="run"/> once per combination of branches; results in branch order.</summary>
    public static List<(double Probability, T Result)> Enumerate<T>(Func<IBranchChooser, T> run, int limit = 1_000_000)
    {
        var results = new List<(IReadOnlyList<int> Key, double P, T R)>();
        var stack = new Stack<List<int>>();
        stack.Push([]);
        while (stack.Count > 0 && results.Count < limit)
        {
            var prefix = stack.Pop();
            var chooser = new ReplayChooser(prefix);
            var r = run(chooser);
            results.Add((chooser.Decisions.Select(d => d.Chosen).ToList(), chooser.Probability, r));
            for (int k = prefix.Count; k < chooser.Decisions.Count; k++)
            {
                var (chosen, probs) = chooser.Decisions[k];
                for (int alt = probs.Count - 1; alt > chosen; alt--)
                {
                    if (probs[alt] <= 0) continue;
                    var next = chooser.Decisions.Take(k).Select(d => d.Chosen).ToList();
                    next.Add(alt);
                    stack.Push(next);
                }
            }
        }
        return results.Select(r => (r.P, r.R)).ToList();
    }
}
