using System.CommandLine;
using PacketLife.Core.Http;
using PacketLife.Core.Net;
using PacketLife.Core.Tracing.Cluster;

namespace PacketLife.App.Cli;

/// <summary>`packetlife curl [-I] [-v] URL [--from SRC]`: one whole TCP connection through the twin to the responder in
/// the pod, printed as curl prints it; the conntrack entries it made stay on the nodes (issue 5 item 4).</summary>
public sealed class CurlCommand : ICommandGroup
{
    public int Order => 51;

    public IEnumerable<Command> Commands()
    {
        var url = new Argument<string>("URL") { Description = "http://IP[:PORT][/PATH]" };
        var head = new Option<bool>("--head", "-I") { Description = "HEAD request; print the response headers" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print the connection and the headers sent and received (stderr)" };
        var from = new Option<string?>("--from") { Description = "internet (default), a node, pod/NAME or an IP" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for the client's port and the branches taken (default: from the clock)" };
        var trace = new Option<bool>("--trace") { Description = "Also print the first packet's path and every packet of the connection (stderr)" };
        var cluster = new Option<string?>("--cluster") { Description = "Cluster state file" };
        var cmd = new Command("curl", "Run curl against the twin: a whole TCP connection through the LB and the nodes") { url, head, verbose, from, seed, trace, cluster };
        cmd.SetAction(pr =>
        {
            var stdout = pr.InvocationConfiguration.Output;
            var stderr = pr.InvocationConfiguration.Error;
            try
            {
                var (host, port, path) = ParseUrl(pr.GetValue(url)!);
                var session = TwinSession.Open(pr.GetValue(cluster));
                var s = pr.GetValue(seed) ?? (ulong)session.Clock.GetUtcNow().ToUnixTimeSeconds();
                var (resolved, error) = TraceTargets.Resolve(session.Topology, pr.GetValue(from), $"{host}:{port}", IpProtocol.Tcp, "default", s);
                if (resolved is null) throw new CliException(error!, 2);
                var result = session.Tracer.Connect(resolved.From, resolved.To, s, pr.GetValue(head) ? "HEAD" : "GET", path);
                var v = pr.GetValue(verbose);
                var output = Render(result, host, port, path, pr.GetValue(head), v);
                stderr.Write(output.Stderr);
                stdout.Write(output.Stdout);
                if (pr.GetValue(trace))
                {
                    stderr.Write(Rendering.TraceText.Render(result.First));
                    foreach (var line in result.Packets) stderr.WriteLine(line);
                }
                session.Save();
                return output.ExitCode;
            }
            catch (CliException e)
            {
                stderr.WriteLine(e.Message);
                return e.ExitCode;
            }
        });
        yield return cmd;
    }

    internal static CurlOutput Render(ConnectionResult r, string host, ushort port, string path, bool head, bool verbose) => r.Disposition switch
    {
        TraceDisposition.Answered when r.Response is { } resp => CurlModel.Success(host, port, head ? "HEAD" : "GET", path, resp, verbose, head),
        TraceDisposition.Answered => new CurlOutput("", (verbose ? $"*   Trying {host}:{port}...\n* Connected to {host} ({host}) port {port}\n" : "")
            + "curl: (52) Empty reply from server\n", 52),
        TraceDisposition.Refused => CurlModel.Refused(host, port, verbose),
        TraceDisposition.Rejected => CurlModel.Unreachable(host, port, verbose, "No route to host"),
        _ => CurlModel.TimedOut(host, port, verbose),
    };

    /// <summary>`http://IP[:PORT][/PATH]` (curl also takes it without the scheme).</summary>
    internal static (string Host, ushort Port, string Path) ParseUrl(string url)
    {
        var rest = url;
        if (rest.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) rest = rest[7..];
        else if (rest.Contains("://", StringComparison.Ordinal))
            throw new CliException($"curl: (1) Protocol \"{rest[..rest.IndexOf("://", StringComparison.Ordinal)]}\" not supported (the twin models http)", 1);
        var slash = rest.IndexOf('/');
        var path = slash >= 0 ? rest[slash..] : "/";
        var hostPort = slash >= 0 ? rest[..slash] : rest;
        ushort port = 80;
        var colon = hostPort.LastIndexOf(':');
        var host = colon >= 0 ? hostPort[..colon] : hostPort;
        if (colon >= 0 && (!ushort.TryParse(hostPort[(colon + 1)..], out port) || port == 0))
            throw new CliException($"curl: (3) URL rejected: Port number was not a decimal number between 0 and 65535", 3);
        if (!Ip4.TryParse(host, out _))
            throw new CliException($"curl: (6) Could not resolve host: {host} (the twin has no DNS: use the LB IP, a ClusterIP or a pod IP)", 6);
        return (host, port, path);
    }
}
