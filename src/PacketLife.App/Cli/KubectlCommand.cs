using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using PacketLife.App.Rendering;
using PacketLife.Core.Cluster;
using PacketLife.Core.Diagnostics;
using PacketLife.Manifests;

namespace PacketLife.App.Cli;

/// <summary>`packetlife kubectl ...`: kubectl's verbs against the cluster twin, with kubectl's flags, layouts
/// and messages. Arguments are taken raw and parsed by <see cref="KubectlFlags"/> (pflag grammar).</summary>
public sealed class KubectlCommandGroup : ICommandGroup
{
    public int Order => 30;

    public IEnumerable<Command> Commands()
    {
        var cmd = new Command("kubectl", "kubectl against the cluster twin (run, expose, create, scale, delete, get, describe, apply). Add --cluster PATH to choose the state file.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        cmd.SetAction(pr => CliRun.Guard(pr, tokens => Kubectl.Run(tokens, pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error)));
        yield return cmd;
    }
}

/// <summary>Runs a raw-token verb and turns <see cref="CliException"/> into one stderr line + exit code
/// (System.CommandLine's default handler would print a stack trace).</summary>
internal static class CliRun
{
    public static int Guard(ParseResult pr, Func<IReadOnlyList<string>, int> run)
    {
        try
        {
            return run(pr.UnmatchedTokens.ToList());
        }
        catch (CliException e)
        {
            pr.InvocationConfiguration.Error.WriteLine(e.Message);
            return e.ExitCode;
        }
    }
}

internal static class Kubectl
{
    static readonly FlagDef Namespace = new("namespace", 'n', FlagKind.String);
    static readonly FlagDef Output = new("output", 'o', FlagKind.String);

    static readonly string[] Verbs = ["apply", "create", "delete", "describe", "expose", "get", "run", "scale"];

    public static int Run(IReadOnlyList<string> raw, TextWriter stdout, TextWriter stderr)
    {
        var (tokens, cluster) = ClusterSession.TakeClusterFlag(raw);
        var verbIndex = -1;
        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] is "-n" or "--namespace") { i++; continue; }
            if (!tokens[i].StartsWith('-')) { verbIndex = i; break; }
        }
        if (verbIndex < 0)
        {
            stdout.WriteLine("kubectl controls the PacketLife cluster twin.\n\nVerbs: " + string.Join(", ", Verbs));
            return 0;
        }
        var verb = tokens[verbIndex];
        var rest = tokens.Take(verbIndex).Concat(tokens.Skip(verbIndex + 1)).ToList();
        var now = ClusterSession.Clock.GetUtcNow();
        return verb switch
        {
            "get" => Get(rest, cluster, stdout, stderr, now),
            "describe" => Describe(rest, cluster, stdout, now),
            "run" => RunPod(rest, cluster, stdout),
            "expose" => Expose(rest, cluster, stdout),
            "create" => Create(rest, cluster, stdout),
            "scale" => Scale(rest, cluster, stdout),
            "delete" => Delete(rest, cluster, stdout),
            "apply" => Apply(rest, cluster, stdout, stderr),
            _ => throw new CliException($"error: unknown command \"{verb}\" for \"kubectl\""),
        };
    }

    /// <summary>Resource names and short names as the discovery API lists them.</summary>
    public static string Kind(string resource) => resource.ToLowerInvariant() switch
    {
        "po" or "pod" or "pods" => "Pod",
        "svc" or "service" or "services" => "Service",
        "ep" or "endpoints" => "Endpoints",
        "endpointslice" or "endpointslices" or "endpointslice.discovery.k8s.io" or "endpointslices.discovery.k8s.io" => "EndpointSlice",
        "no" or "node" or "nodes" => "Node",
        "deploy" or "deployment" or "deployments" or "deployment.apps" or "deployments.apps" => "Deployment",
        "rs" or "replicaset" or "replicasets" or "replicaset.apps" or "replicasets.apps" => "ReplicaSet",
        _ => throw new CliException($"error: the server doesn't have a resource type \"{resource}\""),
    };

    /// <summary>The name printer's `kind[.group]` (cli-runtime printers/name.go).</summary>
    public static string NamePrefix(string kind) => kind switch
    {
        "Deployment" => "deployment.apps",
        "ReplicaSet" => "replicaset.apps",
        "EndpointSlice" => "endpointslice.discovery.k8s.io",
        _ => kind.ToLowerInvariant(),
    };

    static string Ns(KubectlFlags f) => f.Get("namespace") ?? "default";

    static void NoArgsBeyond(KubectlFlags f, int n, string usage)
    {
        if (f.Args.Count > n) throw new CliException($"error: unexpected arguments: [{string.Join(" ", f.Args.Skip(n))}]; usage: {usage}");
    }

    /// <summary>`TYPE NAME...` or `TYPE/NAME`.</summary>
    static (string Kind, List<string> Names) TypeAndNames(List<string> args, string verb)
    {
        if (args.Count == 0)
            throw new CliException(verb == "get" ? "error: Required resource not specified." : "error: You must provide one or more resources by argument or filename.");
        var first = args[0];
        var slash = first.IndexOf('/');
        if (slash > 0)
        {
            var kind = Kind(first[..slash]);
            var names = new List<string> { first[(slash + 1)..] };
            foreach (var a in args.Skip(1))
            {
                var s = a.IndexOf('/');
                if (s <= 0 || Kind(a[..s]) != kind) throw new CliException("error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'");
                names.Add(a[(s + 1)..]);
            }
            return (kind, names);
        }
        return (Kind(first), args.Skip(1).ToList());
    }

    // ------------------------------------------------------------------------------------------ get

    record Listed(string Namespace, string Name, object Obj);

    static List<Listed> ListKind(ClusterState s, string kind) => (kind switch
    {
        "Pod" => s.Pods.Select(p => new Listed(p.Metadata.Namespace, p.Metadata.Name, p)),
        "Service" => s.Services.Select(p => new Listed(p.Metadata.Namespace, p.Metadata.Name, p)),
        "Endpoints" => s.Services.Where(x => x.Spec.Selector.Count > 0 || s.EndpointSlices.Any(e => e.Metadata.Namespace == x.Metadata.Namespace && e.ServiceName == x.Metadata.Name))
            .Select(p => new Listed(p.Metadata.Namespace, p.Metadata.Name, new KubectlObjects.EndpointsObject(p))),
        "EndpointSlice" => s.EndpointSlices.Select(p => new Listed(p.Metadata.Namespace, p.Metadata.Name, p)),
        "Node" => s.Nodes.Select(p => new Listed("", p.Metadata.Name, p)),
        "Deployment" => s.Deployments.Select(p => new Listed(p.Metadata.Namespace, p.Metadata.Name, p)),
        "ReplicaSet" => s.ReplicaSets.Select(p => new Listed(p.Metadata.Namespace, p.Metadata.Name, p)),
        _ => [],
    }).OrderBy(x => x.Namespace, StringComparer.Ordinal).ThenBy(x => x.Name, StringComparer.Ordinal).ToList();

    static IReadOnlyDictionary<string, string> LabelsOf(object o) => o switch
    {
        Pod p => p.Metadata.Labels,
        Service s => s.Metadata.Labels,
        KubectlObjects.EndpointsObject e => e.Service.Metadata.Labels,
        EndpointSlice e => e.Metadata.Labels,
        Node n => n.Metadata.Labels,
        Deployment d => d.Metadata.Labels,
        ReplicaSet r => r.Metadata.Labels,
        _ => new Dictionary<string, string>(),
    };

    static string CheckOutput(string? o, params string[] allowed)
    {
        var format = o ?? "";
        if (format.Length == 0 || allowed.Contains(format)) return format;
        string[] kubectlFormats = ["custom-columns", "custom-columns-file", "go-template", "go-template-file", "json", "jsonpath", "jsonpath-as-json", "jsonpath-file", "name", "template", "templatefile", "wide", "yaml"];
        var head = format.Split('=')[0];
        if (kubectlFormats.Contains(head))
            throw new CliException($"error: output format \"{head}\" is not modelled by PacketLife; use one of: {string.Join(", ", allowed)}");
        throw new CliException($"error: unable to match a printer suitable for the output format \"{format}\", allowed formats are: {string.Join(",", kubectlFormats)}");
    }

    static int Get(List<string> rest, string? cluster, TextWriter stdout, TextWriter stderr, DateTimeOffset now)
    {
        var f = KubectlFlags.Parse(rest, [Namespace, Output, new("all-namespaces", 'A', FlagKind.Bool), new("selector", 'l', FlagKind.String), new("no-headers", null, FlagKind.Bool), new("show-labels", null, FlagKind.Bool)]);
        var format = CheckOutput(f.Get("output"), "wide", "yaml", "json", "name");
        // `get po,svc`: several kinds, each printed as its own table with `kind/name` names (kubectl get.go).
        List<(string Kind, List<string> Names)> requests;
        if (f.Args.Count > 0 && f.Args[0].Contains(',') && !f.Args[0].Contains('/'))
            requests = f.Args[0].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(k => (Kind(k), f.Args.Skip(1).ToList())).ToList();
        else requests = [TypeAndNames(f.Args, "get")];
        var multi = requests.Count > 1;
        var anyNames = requests.Any(r => r.Names.Count > 0);
        LabelSelector? selector = null;
        if (f.Get("selector") is { } sel)
        {
            selector = LabelSelector.TryParse(sel, out var err) ?? throw new CliException("error: " + err);
            if (anyNames) throw new CliException("error: selectors and the --all flag cannot be used when passing resource/name arguments");
        }
        var all = f.Bool("all-namespaces");
        if (all && anyNames) throw new CliException("error: a resource cannot be retrieved by name across all namespaces");
        var state = ClusterSession.Read(cluster);
        var ns = Ns(f);
        var rc = 0;
        // API servers from v1.33 attach this warning to every v1 Endpoints read (facts azure-aks.md §4.2).
        if (requests.Any(r => r.Kind == "Endpoints") && state.Profile.AtLeast(1, 33))
            stderr.WriteLine("Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice");
        var blocks = new List<string>();
        var objects = new List<JsonObject>();
        var total = 0;
        foreach (var (kind, names) in requests)
        {
            var items = ListKind(state, kind);
            var clusterScoped = kind == "Node";
            List<Listed> shown;
            if (names.Count > 0)
            {
                shown = [];
                foreach (var n in names)
                {
                    var hit = items.Find(x => x.Name == n && (clusterScoped || x.Namespace == ns));
                    if (hit is null) { stderr.WriteLine(ClusterMessages.NotFound(kind, n)); rc = 1; }
                    else shown.Add(hit);
                }
            }
            else shown = items.Where(x => (clusterScoped || all || x.Namespace == ns) && (selector is null || selector.Matches(LabelsOf(x.Obj)))).ToList();
            total += shown.Count;
            if (shown.Count == 0) continue;
            switch (format)
            {
                case "name":
                    blocks.Add(string.Concat(shown.Select(x => $"{NamePrefix(kind)}/{x.Name}\n")));
                    break;
                case "yaml":
                case "json":
                    objects.AddRange(shown.Select(x => KubectlObjects.ToJson(state, x.Obj)));
                    break;
                default:
                    blocks.Add(Table(state, kind, shown, f, all && !clusterScoped, multi, format == "wide", now));
                    break;
            }
        }
        if (total == 0)
        {
            if (!anyNames)
                stderr.WriteLine(requests.All(r => r.Kind == "Node") || all ? "No resources found" : $"No resources found in {ns} namespace.");
            return rc;
        }
        if (format is "yaml" or "json")
        {
            JsonNode node = !multi && requests[0].Names.Count == 1 ? objects[0] : KubectlObjects.List(objects);
            stdout.Write(format == "yaml" ? KubectlObjects.Yaml(node) : KubectlObjects.Json(node));
        }
        else stdout.Write(string.Join(format == "name" ? "" : "\n", blocks));
        return rc;
    }

    static string Table(ClusterState state, string kind, List<Listed> shown, KubectlFlags f, bool nsColumn, bool kindPrefix, bool wide, DateTimeOffset now)
    {
        var w = KubectlTabWriter.ForGet();
        var headers = KubectlPrinters.Headers(kind, wide).ToList();
        if (nsColumn) headers.Insert(0, "NAMESPACE");
        if (f.Bool("show-labels")) headers.Add("LABELS");
        if (!f.Bool("no-headers")) w.Row(headers);
        foreach (var x in shown)
        {
            var row = (x.Obj switch
            {
                Pod p => KubectlPrinters.PodRow(p, now, wide),
                Service s => KubectlPrinters.ServiceRow(s, now, wide),
                KubectlObjects.EndpointsObject e => KubectlPrinters.EndpointsRow(state, e.Service, now),
                EndpointSlice e => KubectlPrinters.EndpointSliceRow(e, now),
                Node n => KubectlPrinters.NodeRow(n, now, wide),
                Deployment d => KubectlPrinters.DeploymentRow(state, d, now, wide),
                ReplicaSet r => KubectlPrinters.ReplicaSetRow(state, r, now, wide),
                _ => throw new InvalidOperationException(),
            }).ToList();
            if (kindPrefix) row[0] = $"{NamePrefix(kind)}/{row[0]}";
            if (nsColumn) row.Insert(0, x.Namespace);
            if (f.Bool("show-labels")) row.Add(LabelsOf(x.Obj).Count == 0 ? "<none>" : KubectlPrinters.Selector(LabelsOf(x.Obj)));
            w.Row(row);
        }
        return w.ToString();
    }

    // ------------------------------------------------------------------------------------------ describe

    static int Describe(List<string> rest, string? cluster, TextWriter stdout, DateTimeOffset now)
    {
        var f = KubectlFlags.Parse(rest, [Namespace, new("selector", 'l', FlagKind.String)]);
        var (kind, names) = TypeAndNames(f.Args, "describe");
        if (kind != "Service") throw new CliException($"error: describe {NamePrefix(kind)} is not modelled by PacketLife; describe svc is");
        var state = ClusterSession.Read(cluster);
        var ns = Ns(f);
        List<Service> services;
        if (names.Count > 0)
            services = names.Select(n => state.FindService(ns, n) ?? throw new CliException(ClusterMessages.NotFound("Service", n))).ToList();
        else
        {
            LabelSelector? selector = f.Get("selector") is { } sel ? LabelSelector.TryParse(sel, out var err) ?? throw new CliException("error: " + err) : null;
            services = state.Services.Where(s => s.Metadata.Namespace == ns && (selector is null || selector.Matches(s.Metadata.Labels)))
                .OrderBy(s => s.Metadata.Name, StringComparer.Ordinal).ToList();
            if (services.Count == 0) throw new CliException($"No resources found in {ns} namespace.");
        }
        // describe.go: descriptions after the first are preceded by "\n\n".
        var sb = new StringBuilder();
        for (var i = 0; i < services.Count; i++)
        {
            if (i > 0) sb.Append("\n\n");
            sb.Append(KubectlDescribe.Service(state, services[i], now));
        }
        stdout.Write(sb.ToString());
        return 0;
    }

    // ------------------------------------------------------------------------------------------ run / create / expose

    static IReadOnlyDictionary<string, string> ParseLabels(string text)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2 || kv[0].Length == 0) throw new CliException($"error: invalid label spec: {part}");
            d[kv[0]] = kv[1];
        }
        return d;
    }

    static int RunPod(List<string> rest, string? cluster, TextWriter stdout)
    {
        var f = KubectlFlags.Parse(rest, [Namespace, new("image", null, FlagKind.String), new("port", null, FlagKind.String), new("labels", 'l', FlagKind.String), new("restart", null, FlagKind.String)]);
        if (f.Args.Count == 0) throw new CliException("error: NAME is required for run");
        NoArgsBeyond(f, 1, "kubectl run NAME --image=image [--port=port]");
        var image = f.Get("image") ?? throw new CliException("error: required flag(s) \"image\" not set");
        var name = f.Args[0];
        var ports = new List<ContainerPort>();
        if (f.Get("port") is { Length: > 0 } p)
        {
            if (!int.TryParse(p, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var port))
                throw new CliException($"error: strconv.Atoi: parsing \"{p}\": invalid syntax");
            ports.Add(new ContainerPort(port));
        }
        var labels = f.Get("labels") is { } l ? ParseLabels(l) : new Dictionary<string, string> { ["run"] = name };
        var restart = f.Get("restart") ?? "Always";
        if (restart is not ("Always" or "OnFailure" or "Never")) throw new CliException($"error: invalid restart policy: {restart}");
        ClusterSession.Change(cluster, api =>
        {
            ClusterSession.Check(api.CreatePod(new Pod
            {
                Metadata = new ObjectMeta { Name = name, Namespace = Ns(f), Labels = labels },
                Spec = new PodSpec { Containers = [new Container { Name = name, Image = image, Ports = ports }], RestartPolicy = restart },
            }));
            return 0;
        });
        stdout.WriteLine($"pod/{name} created");
        return 0;
    }

    static int Create(List<string> rest, string? cluster, TextWriter stdout)
    {
        var f = KubectlFlags.Parse(rest, [Namespace, new("image", null, FlagKind.String), new("port", null, FlagKind.Int), new("replicas", 'r', FlagKind.Int)]);
        if (f.Args.Count == 0) throw new CliException("error: must specify one of -f and -k");
        var what = f.Args[0];
        if (what is not ("deploy" or "deployment")) throw new CliException($"error: unknown command \"{what}\" for \"kubectl create\"");
        if (f.Args.Count < 2) throw new CliException("error: exactly one NAME is required, got 0");
        NoArgsBeyond(f, 2, "kubectl create deployment NAME --image=image [--port=port] [--replicas=N]");
        var name = f.Args[1];
        var image = f.Get("image") ?? throw new CliException("error: required flag(s) \"image\" not set");
        var replicas = f.Int("replicas") ?? 1;
        var labels = new Dictionary<string, string> { ["app"] = name };
        // create_deployment.go: the container is named after the image's last path element, without tag.
        var container = image.Split('/')[^1].Split(':')[0].Split('@')[0];
        var ports = f.Int("port") is { } port && port != -1 ? new List<ContainerPort> { new(port) } : [];
        ClusterSession.Change(cluster, api =>
        {
            ClusterSession.Check(api.CreateDeployment(new Deployment
            {
                Metadata = new ObjectMeta { Name = name, Namespace = Ns(f), Labels = labels },
                Replicas = replicas,
                Selector = labels,
                Template = new PodTemplate { Labels = labels, Spec = new PodSpec { Containers = [new Container { Name = container, Image = image, Ports = ports }] } },
            }));
            return 0;
        });
        stdout.WriteLine($"deployment.apps/{name} created");
        return 0;
    }

    static int Expose(List<string> rest, string? cluster, TextWriter stdout)
    {
        var f = KubectlFlags.Parse(rest, [Namespace, new("type", null, FlagKind.String), new("port", null, FlagKind.String), new("target-port", null, FlagKind.String),
            new("name", null, FlagKind.String), new("protocol", null, FlagKind.String), new("selector", null, FlagKind.String), new("labels", 'l', FlagKind.String),
            new("external-ip", null, FlagKind.String), new("session-affinity", null, FlagKind.String), new("cluster-ip", null, FlagKind.String)]);
        var (kind, names) = TypeAndNames(f.Args, "expose");
        if (names.Count != 1) throw new CliException("error: You must provide one or more resources by argument or filename.");
        var ns = Ns(f);
        var typeText = f.Get("type") ?? "ClusterIP";
        if (!Enum.TryParse<ServiceType>(typeText, ignoreCase: false, out var type) || !Enum.IsDefined(type))
            throw new CliException($"The Service \"{f.Get("name") ?? names[0]}\" is invalid: spec.type: Unsupported value: \"{typeText}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"");
        var name = f.Get("name") ?? names[0];
        ClusterSession.Change(cluster, api =>
        {
            var s = api.State;
            IReadOnlyDictionary<string, string> selector, labels;
            List<ContainerPort> introspected;
            switch (kind)
            {
                case "Pod":
                    var pod = s.FindPod(ns, names[0]) ?? throw new CliException(ClusterMessages.NotFound("Pod", names[0]));
                    selector = pod.Metadata.Labels; labels = pod.Metadata.Labels;
                    introspected = pod.Spec.Containers.SelectMany(c => c.Ports).ToList();
                    if (selector.Count == 0) throw new CliException($"error: couldn't retrieve selectors via --selector flag or introspection: the pod has no labels and cannot be exposed");
                    break;
                case "Deployment":
                    var d = s.FindDeployment(ns, names[0]) ?? throw new CliException(ClusterMessages.NotFound("Deployment", names[0]));
                    selector = d.Selector; labels = d.Metadata.Labels;
                    introspected = d.Template.Spec.Containers.SelectMany(c => c.Ports).ToList();
                    break;
                case "ReplicaSet":
                    var rs = s.ReplicaSets.Find(r => r.Metadata.Namespace == ns && r.Metadata.Name == names[0]) ?? throw new CliException(ClusterMessages.NotFound("ReplicaSet", names[0]));
                    selector = rs.Selector; labels = rs.Metadata.Labels;
                    introspected = rs.Template.Spec.Containers.SelectMany(c => c.Ports).ToList();
                    break;
                case "Service":
                    var svc = s.FindService(ns, names[0]) ?? throw new CliException(ClusterMessages.NotFound("Service", names[0]));
                    selector = svc.Spec.Selector; labels = svc.Metadata.Labels;
                    introspected = svc.Spec.Ports.Select(p => new ContainerPort(p.Port, p.Name, p.Protocol)).ToList();
                    break;
                default:
                    throw new CliException($"error: cannot expose a {NamePrefix(kind)}");
            }
            if (f.Get("selector") is { } selText) selector = ParseLabels(selText);
            if (f.Get("labels") is { } labelText) labels = ParseLabels(labelText);
            var protocol = f.Get("protocol") is { } pr ? Enum.TryParse<Protocol>(pr, false, out var pp) && Enum.IsDefined(pp) ? pp
                : throw new CliException($"The Service \"{name}\" is invalid: spec.ports[0].protocol: Unsupported value: \"{pr}\": supported values: \"SCTP\", \"TCP\", \"UDP\"") : (Protocol?)null;
            var ports = new List<ServicePort>();
            if (f.Get("port") is { Length: > 0 } portText)
            {
                // expose.go: --port may list several ports, comma separated; names port-1, port-2 when > 1.
                var list = portText.Split(',');
                for (var i = 0; i < list.Length; i++)
                {
                    if (!int.TryParse(list[i], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var port))
                        throw new CliException($"error: strconv.Atoi: parsing \"{list[i]}\": invalid syntax");
                    ports.Add(new ServicePort { Name = list.Length > 1 ? $"port-{i + 1}" : "", Port = port, Protocol = protocol ?? Protocol.TCP, TargetPort = IntOrString.FromInt(port) });
                }
            }
            else
            {
                if (introspected.Count == 0) throw new CliException("error: couldn't find port via --port flag or introspection");
                for (var i = 0; i < introspected.Count; i++)
                {
                    var cp = introspected[i];
                    ports.Add(new ServicePort
                    {
                        Name = introspected.Count > 1 ? (kind == "Service" && cp.Name is { Length: > 0 } n ? n : $"port-{i + 1}") : "",
                        Port = cp.Port, Protocol = protocol ?? cp.Protocol, TargetPort = IntOrString.FromInt(cp.Port),
                    });
                }
            }
            if (f.Get("target-port") is { Length: > 0 } tp)
            {
                var target = int.TryParse(tp, out var tpi) ? IntOrString.FromInt(tpi) : IntOrString.FromString(tp);
                ports = ports.Select(p => p with { TargetPort = target }).ToList();
            }
            var affinity = f.Get("session-affinity") is { } sa ? Enum.TryParse<SessionAffinity>(sa, false, out var a) && Enum.IsDefined(a) ? a
                : throw new CliException($"The Service \"{name}\" is invalid: spec.sessionAffinity: Unsupported value: \"{sa}\": supported values: \"ClientIP\", \"None\"") : SessionAffinity.None;
            ClusterSession.Check(api.CreateService(new Service
            {
                Metadata = new ObjectMeta { Name = name, Namespace = ns, Labels = labels },
                Spec = new ServiceSpec
                {
                    Type = type, Selector = selector, Ports = ports, SessionAffinity = affinity,
                    ClusterIP = f.Get("cluster-ip") ?? "",
                    ExternalIPs = f.Get("external-ip") is { } eip ? eip.Split(',') : [],
                },
            }));
            return 0;
        });
        stdout.WriteLine($"service/{name} exposed");
        return 0;
    }

    // ------------------------------------------------------------------------------------------ scale / delete

    static int Scale(List<string> rest, string? cluster, TextWriter stdout)
    {
        var f = KubectlFlags.Parse(rest, [Namespace, new("replicas", null, FlagKind.Int)]);
        var (kind, names) = TypeAndNames(f.Args, "scale");
        var replicas = f.Int("replicas") ?? -1;
        if (replicas < 0) throw new CliException("error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0");
        if (kind != "Deployment") throw new CliException($"error: scaling a {NamePrefix(kind)} is not modelled by PacketLife; scale deploy is");
        if (names.Count == 0) throw new CliException("error: resource(s) were provided, but no name was specified");
        ClusterSession.Change(cluster, api =>
        {
            foreach (var n in names) ClusterSession.Check(api.ScaleDeployment(Ns(f), n, replicas));
            return 0;
        });
        foreach (var n in names) stdout.WriteLine($"deployment.apps/{n} scaled");
        return 0;
    }

    static int Delete(List<string> rest, string? cluster, TextWriter stdout)
    {
        var f = KubectlFlags.Parse(rest, [Namespace, Output, new("grace-period", null, FlagKind.Int), new("force", null, FlagKind.Bool), new("wait", null, FlagKind.Bool)]);
        var format = CheckOutput(f.Get("output"), "name");
        var (kind, names) = TypeAndNames(f.Args, "delete");
        if (names.Count == 0) throw new CliException("error: resource(s) were provided, but no name was specified");
        if (kind == "Endpoints") throw new CliException("error: v1 Endpoints are derived from EndpointSlices here; delete the Service or its EndpointSlices");
        ClusterSession.Change(cluster, api =>
        {
            foreach (var n in names) ClusterSession.Check(api.Delete(kind, kind == "Node" ? "" : Ns(f), n));
            return 0;
        });
        // kubectl 1.30 (the seed cluster's version) prints `<resource> "<name>" deleted`; from 1.34 it adds
        // `from <ns> namespace` (facts azure-aks.md §4.5).
        var forced = f.Get("grace-period") == "0" && f.Bool("force") ? "force deleted" : "deleted";
        foreach (var n in names)
            stdout.WriteLine(format == "name" ? $"{NamePrefix(kind)}/{n}" : $"{NamePrefix(kind)} \"{n}\" {forced}");
        return 0;
    }

    // ------------------------------------------------------------------------------------------ apply

    static int Apply(List<string> rest, string? cluster, TextWriter stdout, TextWriter stderr)
    {
        var f = KubectlFlags.Parse(rest, [Namespace, new("filename", 'f', FlagKind.String), Output]);
        var format = CheckOutput(f.Get("output"), "name");
        var file = f.Get("filename") ?? throw new CliException("error: must specify one of -f and -k");
        if (f.Args.Count > 0) throw new CliException($"error: Unexpected args: [{string.Join(" ", f.Args)}]");
        if (!File.Exists(file)) throw new CliException($"error: the path \"{file}\" does not exist");
        var read = ManifestReader.ReadFiles([file]);
        var firstError = read.Diagnostics.FirstOrDefault(d => d.Severity == Severity.Error);
        if (firstError is not null) throw new CliException($"error: error parsing {file}: {firstError}");
        foreach (var d in read.Diagnostics.Where(d => d.Severity == Severity.Warning)) stderr.WriteLine("Warning: " + d);
        if (read.Objects.Count == 0) throw new CliException("error: no objects passed to apply");
        var ns = f.Get("namespace");
        var lines = ClusterSession.Change(cluster, api =>
        {
            var outLines = new List<string>();
            foreach (var obj in read.Objects)
            {
                var o = ns is null ? obj : WithNamespace(obj, ns);
                var (kind, name) = Describe(o);
                string op;
                if (o is Service or Deployment or Pod)
                {
                    var (r, operation) = api.Apply(o);
                    // All or nothing: one failed object leaves the state file as it was.
                    if (!r.Ok) throw new CliException(r.Error!.StartsWith("Error from server", StringComparison.Ordinal) ? r.Error : $"Error from server (Invalid): error when creating \"{file}\": {r.Error}");
                    op = operation;
                }
                else
                {
                    var existed = ListKind(api.State, kind).Any(x => x.Name == name);
                    ClusterSession.Check(api.Import(o, frozen: false));
                    api.ReconcileAll();
                    op = existed ? "configured" : "created";
                }
                outLines.Add(format == "name" ? $"{NamePrefix(kind)}/{name}" : $"{NamePrefix(kind)}/{name} {op}");
            }
            return outLines;
        });
        foreach (var l in lines) stdout.WriteLine(l);
        return 0;
    }

    static (string Kind, string Name) Describe(object o) => o switch
    {
        Pod p => ("Pod", p.Metadata.Name),
        Service s => ("Service", s.Metadata.Name),
        Deployment d => ("Deployment", d.Metadata.Name),
        ReplicaSet r => ("ReplicaSet", r.Metadata.Name),
        EndpointSlice e => ("EndpointSlice", e.Metadata.Name),
        Node n => ("Node", n.Metadata.Name),
        _ => (o.GetType().Name, ""),
    };

    static object WithNamespace(object o, string ns) => o switch
    {
        Pod p => p with { Metadata = p.Metadata with { Namespace = ns } },
        Service s => s with { Metadata = s.Metadata with { Namespace = ns } },
        Deployment d => d with { Metadata = d.Metadata with { Namespace = ns } },
        ReplicaSet r => r with { Metadata = r.Metadata with { Namespace = ns } },
        EndpointSlice e => e with { Metadata = e.Metadata with { Namespace = ns } },
        _ => o,
    };
}
