namespace PacketLife.Core.Net;

/// <summary>One of several outcomes of a random choice, with its exact probability (explain mode's results).</summary>
public interface IWeighted
{
    double Probability { get; }
}

public static class WeightedOrder
{
    /// <summary>Most likely first, ties in their present order (enumeration order): a stable insertion sort, for the
    /// handful of outcomes an explain returns, without LINQ to compile in a one-shot process.</summary>
    public static void SortMostLikelyFirst<T>(List<T> outcomes) where T : IWeighted
    {
        for (int i = 1; i < outcomes.Count; i++)
        {
            var o = outcomes[i];
            int j = i - 1;
            while (j >= 0 && outcomes[j].Probability < o.Probability) { outcomes[j + 1] = outcomes[j]; j--; }
            outcomes[j + 1] = o;
        }
    }
}
