using PacketLife.Core.Cluster;
using PacketLife.Core.Diagnostics;
using PacketLife.Manifests;

namespace PacketLife.Tests.Cluster;

public class ManifestReaderTests
{
    const string TwoDocs = """
        # leading comment-only document
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          labels: {app: web}
        spec:
          type: LoadBalancer
          externalTrafficPolicy: Local
          sessionAffinity: ClientIP
          sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}
          selector: {app: web}
          ports:
          - name: http
            port: 80
            targetPort: http
          - name: https
            port: 443
            targetPort: 8443
            protocol: TCP
        ---
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 3
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: web
                image: nginx
                ports: [{containerPort: 80, name: http}]
        """;

    [Fact]
    public void Multi_document_yaml_skips_empty_documents_and_reads_named_ports_and_policies()
    {
        var r = ManifestReader.ReadText(TwoDocs, "web.yaml");
        Assert.Empty(r.Diagnostics);
        Assert.Equal(2, r.Objects.Count);
        var svc = Assert.IsType<Service>(r.Objects[0]);
        Assert.Equal(ServiceType.LoadBalancer, svc.Spec.Type);
        Assert.Equal(TrafficPolicy.Local, svc.Spec.ExternalTrafficPolicy);
        Assert.Equal(SessionAffinity.ClientIP, svc.Spec.SessionAffinity);
        Assert.Equal(300, svc.Spec.SessionAffinityTimeoutSeconds);
        Assert.Equal(IntOrString.FromString("http"), svc.Spec.Ports[0].TargetPort);
        Assert.Equal(IntOrString.FromInt(8443), svc.Spec.Ports[1].TargetPort);
        var d = Assert.IsType<Deployment>(r.Objects[1]);
        Assert.Equal(3, d.Replicas);
        Assert.Equal("http", d.Template.Spec.Containers[0].Ports[0].Name);
    }

    [Fact]
    public void Json_list_is_unwrapped()
    {
        var json = """
            {"apiVersion":"v1","kind":"List","items":[
              {"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"x"},"spec":{"containers":[{"name":"c","image":"nginx"}]},
               "status":{"phase":"Running","podIP":"10.244.0.7","conditions":[{"type":"Ready","status":"True"}]}},
              {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"spec":{"podCIDR":"10.244.0.0/24"},
               "status":{"addresses":[{"type":"InternalIP","address":"10.224.0.4"}]}}
            ],"metadata":{"resourceVersion":""}}
            """;
        var r = ManifestReader.ReadText(json, "list.json");
        Assert.Empty(r.Diagnostics);
        var pod = Assert.IsType<Pod>(r.Objects[0]);
        Assert.Equal(("x", "10.244.0.7", true), (pod.Metadata.Namespace, pod.Status.PodIP, pod.Status.Ready));
        var node = Assert.IsType<Node>(r.Objects[1]);
        Assert.Equal(("", "10.224.0.4", "10.244.0.0/24"), (node.Metadata.Namespace, node.InternalIP, node.PodCIDR));
    }

    // case                       text                                                                    code                         severity          line
    public static TheoryData<string, string, string, Severity, int> Problems => new()
    {
        { "unknown kind",          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",               ClusterMessages.UnknownKind,  Severity.Warning, 1 },
        { "unknown field",         "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: c, image: i}]\n  dnsPolicy: ClusterFirst\n", ClusterMessages.UnknownField, Severity.Warning, 6 },
        { "bad port",              "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports:\n  - port: eighty\n", ClusterMessages.BadValue, Severity.Error, 6 },
        { "bad enum",              "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  type: Balanced\n  ports: [{port: 80}]\n", ClusterMessages.BadValue, Severity.Error, 5 },
        { "syntax error",          "apiVersion: v1\nkind: Service\nmetadata: {name: x\n",                  ClusterMessages.YamlSyntax,   Severity.Error,   4 },
        { "missing kind",          "apiVersion: v1\nmetadata: {name: x}\n",                                 ClusterMessages.MissingField, Severity.Error,   1 },
        { "endpoints are derived", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: x}\n",               ClusterMessages.DerivedKind,  Severity.Info,    1 },
    };

    [Theory, MemberData(nameof(Problems))]
    public void Every_problem_is_reported_with_its_line(string @case, string text, string code, Severity severity, int line)
    {
        var r = ManifestReader.ReadText(text, "in.yaml");
        var d = Assert.Single(r.Diagnostics);
        Assert.True(d.Code == code && d.Severity == severity && d.Location.Line == line, $"{@case}: {d}");
        Assert.Equal("in.yaml", d.Location.Source);
    }
}

public class ManifestReaderDualStackTests
{
    [Fact]
    public void A_second_pod_IP_is_reported_not_dropped()
    {
        var r = ManifestReader.ReadText("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\nstatus:\n  podIP: 10.244.0.5\n  podIPs: [{ip: 10.244.0.5}, {ip: 'fd00::5'}]\n", "p.yaml");
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal("p.yaml:7:30: warning PL3003: status.podIPs[1].ip: additional pod IP fd00::5 is not modelled (single-stack IPv4 only); ignored", d.ToString());
    }
}
