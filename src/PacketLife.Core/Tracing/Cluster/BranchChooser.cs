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
    public static List<(double Probability, T Result)> Enumerate<T>(Func<IBranchChooser, T> run, int limit = 1_000_000) => Enumerate(run, [], limit);

    /// <summary>The same as <see cref="Enumerate{T}(Func{IBranchChooser, T}, int)"/>, with the subtrees of the first fork
    /// enumerated on <paramref name="threads"/> threads, each with its own <typeparamref name="TState"/>. Depth-first
    /// order is lexicographic in the choices, so concatenating the subtrees in branch order gives the sequential order;
    /// the caller guarantees that a run depends only on its choices, not on which state object it had.</summary>
    /// <param name="afterSubtree">Called on a thread's state after each subtree (to drop caches the next subtree cannot use).</param>
    public static List<(double Probability, T Result)> EnumerateSplit<T, TState>(Func<IBranchChooser, TState, T> run, int threads, Func<TState> newState,
        Action<TState>? afterSubtree = null, int limit = 1_000_000)
    {
        // One run finds the first fork (its own path is the first of subtree 0, walked again there: one path of work).
        var probe = new ReplayChooser([]);
        var first = newState();
        run(probe, first);
        if (probe.Decisions.Count == 0) return Enumerate(ch => run(ch, first), limit);
        var probs = probe.Decisions[0].Probabilities;
        var branches = Enumerable.Range(0, probs.Count).Where(b => probs[b] > 0 || b == probe.Decisions[0].Chosen).ToArray();
        var parts = new List<(double, T)>[branches.Length];
        Parallel.For(0, branches.Length, new ParallelOptions { MaxDegreeOfParallelism = threads }, newState,
            (i, _, state) =>
            {
                parts[i] = Enumerate(ch => run(ch, state), [branches[i]], limit);
                afterSubtree?.Invoke(state);
                return state;
            }, _ => { });
        var all = new List<(double, T)>();
        foreach (var part in parts)
        {
            all.AddRange(part);
            if (all.Count >= limit) { all.RemoveRange(limit, all.Count - limit); break; }
        }
        return all;
    }

    static List<(double Probability, T Result)> Enumerate<T>(Func<IBranchChooser, T> run, List<int> start, int limit)
    {
        var results = new List<(double Probability, T Result)>();
        var stack = new Stack<List<int>>();
        stack.Push(start);
        while (stack.Count > 0 && results.Count < limit)
        {
            var prefix = stack.Pop();
            var chooser = new ReplayChooser(prefix);
            var r = run(chooser);
            results.Add((chooser.Probability, r));
            // Each later alternative of each fork past the prefix, pushed so that they come out in branch order.
            for (int k = prefix.Count; k < chooser.Decisions.Count; k++)
            {
                var (chosen, probs) = chooser.Decisions[k];
                for (int alt = probs.Count - 1; alt > chosen; alt--)
                {
                    if (probs[alt] <= 0) continue;
                    var next = new List<int>(k + 1);
                    for (int i = 0; i < k; i++) next.Add(chooser.Decisions[i].Chosen);
                    next.Add(alt);
                    stack.Push(next);
                }
            }
        }
        return results;
    }
}
