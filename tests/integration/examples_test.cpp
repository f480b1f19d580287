// The shipped example templates and the template language's flow constructs, end to end
// against the real services and a local test double of the infrastructure APIs.
#include <atomic>
#include <mutex>
#include <set>

#include "harness.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

std::string Status(const json& request, const std::string& id) {
  return TaskById(request, id)["status"].get<std::string>();
}

// One fake of the cloud, network, IPAM, hypervisor, monitoring and capacity APIs. Records
// every call as "METHOD /path"; `fail` makes a path answer 409 (not retryable).
class Infra {
 public:
  Infra() {
    auto& s = http_.server();
    auto json_reply = [](httplib::Response& res, int status, const json& body) {
      res.status = status;
      res.set_content(body.dump(), "application/json");
    };
    s.Get(R"(/network-configs/([\w-]+))", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json_reply(
          res, 200,
          {{"id", "cfg-" + std::string(req.matches[1])}, {"cidr", "10.20.0.0/16"}, {"asn", 64512}});
    });
    s.Post("/vpcs", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json body = json::parse(req.body);
      json_reply(res, 201,
                 {{"id", "vpc-" + body["name"].get<std::string>()},
                  {"router_id", "rtr-1"},
                  {"cidr", body["cidr"]}});
    });
    s.Post("/fednet/routes", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json_reply(res, 200, {{"id", "fed-route-1"}});
    });
    s.Post(R"(/vpcs/([\w-]+)/routes)", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json_reply(res, 200, {{"id", "vpc-route-1"}});
    });
    s.Post(R"(/vpcs/([\w-]+)/api-access)", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json_reply(res, 200, {{"id", "grant-7"}});
    });
    s.Delete(R"(/vpcs/([\w-]+)/api-access/([\w-]+))", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      res.status = 204;
    });
    s.Post("/ipsec/peerings", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json_reply(res, 201, {{"id", "peer-1"}, {"tunnel_ip", "169.254.10.1"}});
    });
    s.Delete(R"(/network-configs/([\w-]+)/leases/([\w-]+))", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      res.status = 204;
    });
    // IPAM, hypervisor, monitoring.
    s.Post(R"(/networks/([\w-]+)/allocations)", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json_reply(res, 201, {{"id", "alloc-1"}, {"ip", "10.1.2.3"}});
    });
    s.Delete(R"(/allocations/([\w-]+))", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      res.status = 204;
    });
    s.Post("/vms", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      std::lock_guard<std::mutex> lock(mu_);
      vm_ = json::parse(req.body);
      vm_polls_ = 0;
      json_reply(res, 201, {{"id", "vm-100"}});
    });
    s.Get(R"(/vms/([\w-]+))", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      std::lock_guard<std::mutex> lock(mu_);
      bool ready = ++vm_polls_ >= 2;
      json_reply(res, 200,
                 {{"id", req.matches[1]},
                  {"state", ready ? "running" : "building"},
                  {"hostname", vm_.value("hostname", "")}});
    });
    s.Post("/hosts", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json_reply(res, 201, {{"id", "mon-9"}});
    });
    // Capacity: plans, servers, pool members.
    s.Post(R"(/pools/([\w-]+)/plans)", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json slots = json::array();
      int count = json::parse(req.body)["count"];
      for (int i = 0; i < count; ++i) {
        std::string name = std::to_string(i);
        name.insert(name.begin(), 's');
        slots.push_back({{"name", name}, {"zone", i % 2 ? "b" : "a"}});
      }
      json_reply(res, 201, {{"slots", slots}});
    });
    s.Post("/servers", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json body = json::parse(req.body);
      json_reply(res, 201, {{"id", "srv-" + body["slot"].dump()}, {"name", body["name"]}});
    });
    s.Post(R"(/pools/([\w-]+)/members)", [=, this](const auto& req, auto& res) {
      if (Record(req, res)) return;
      json_reply(res, 200, {{"members", json::parse(req.body)["servers"].size()}});
    });
    http_.Start();
  }

  std::string url() const { return http_.url(); }
  void Fail(const std::string& call) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_.insert(call);
  }
  std::vector<std::string> Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  int Count(const std::string& prefix) {
    int n = 0;
    for (const auto& c : Calls()) n += c.rfind(prefix, 0) == 0 ? 1 : 0;
    return n;
  }

 private:
  // Records the call; answers 409 and returns true when it is to fail.
  bool Record(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string call = req.method + " " + req.path;
    calls_.push_back(call);
    if (fail_.count(call)) {
      res.status = 409;
      res.set_content(R"({"error": "conflict"})", "application/json");
      return true;
    }
    return false;
  }

  TestHttpServer http_;
  std::mutex mu_;
  std::vector<std::string> calls_;
  std::set<std::string> fail_;
  json vm_;
  int vm_polls_ = 0;
};

class Examples : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_.StartApi();
    stack_.StartEngine("engine-1");
  }
  Infra infra_;
  Stack stack_;
};

TEST_F(Examples, VpcFederationRunsAllEightStepsWithDataFlowing) {
  json r = stack_.WaitDone(
      stack_.Submit("vpc_federation",
                    {{"cloud_api", infra_.url()}, {"site", "par1"}, {"vpc_name", "blue"}}),
      60s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
  for (const auto& t : r["tasks"]) EXPECT_EQ(t["status"], "succeeded") << t.dump();
  EXPECT_EQ(
      r["outputs"],
      json({{"vpc_id", "vpc-blue"}, {"peering_id", "peer-1"}, {"tunnel_ip", "169.254.10.1"}}));
  EXPECT_EQ(infra_.Count("DELETE /vpcs/vpc-blue/api-access/grant-7"), 1);
  EXPECT_EQ(infra_.Count("DELETE /network-configs/par1/leases/cfg-par1"), 1);
}

TEST_F(Examples, VpcFederationTearsDownWhenAMiddleStepFails) {
  infra_.Fail("POST /ipsec/peerings");
  json r = stack_.WaitDone(
      stack_.Submit("vpc_federation",
                    {{"cloud_api", infra_.url()}, {"site", "par1"}, {"vpc_name", "red"}}),
      60s);
  ASSERT_EQ(r["status"], "failed") << r.dump(2);
  EXPECT_NE(r["error"].get<std::string>().find("ipsec_peering"), std::string::npos) << r["error"];
  EXPECT_EQ(Status(r, "ipsec_peering"), "failed");
  // The clean-up steps still ran, in order, after the failure.
  EXPECT_EQ(Status(r, "remove_api_access"), "succeeded");
  EXPECT_EQ(Status(r, "teardown_config"), "succeeded");
  auto calls = infra_.Calls();
  auto at = [&](const std::string& c) {
    return std::find(calls.begin(), calls.end(), c) - calls.begin();
  };
  EXPECT_LT(at("POST /ipsec/peerings"), at("DELETE /vpcs/vpc-red/api-access/grant-7"));
  EXPECT_LT(at("DELETE /vpcs/vpc-red/api-access/grant-7"),
            at("DELETE /network-configs/par1/leases/cfg-par1"));
}

TEST_F(Examples, VpcFederationWithoutFednetSkipsThatBranchOnly) {
  json r = stack_.WaitDone(stack_.Submit("vpc_federation", {{"cloud_api", infra_.url()},
                                                            {"site", "ams"},
                                                            {"vpc_name", "green"},
                                                            {"federate", false}}),
                           60s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_EQ(Status(r, "fednet_routing"), "skipped");
  EXPECT_EQ(Status(r, "ipsec_peering"), "succeeded");
  EXPECT_EQ(infra_.Count("POST /fednet/routes"), 0);
}

TEST_F(Examples, VmRequestBuildsTheVmInAChildWorkflowOnTheSameTrace) {
  json data = {
      {"services",
       {{"ipam", infra_.url()}, {"hypervisor", infra_.url()}, {"monitoring", infra_.url()}}},
      {"hostname", "dev-box-1"},
      {"network", "lab"},
      {"cpu", 4},
      {"memory_gb", 16},
      {"disk_gb", 100}};
  std::string id = stack_.Submit("vm_request", data);
  json r = stack_.WaitDone(id, 60s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_EQ(r["outputs"]["vm_id"], "vm-100");
  EXPECT_EQ(r["outputs"]["ip"], "10.1.2.3");
  EXPECT_EQ(r["outputs"]["monitor_id"], "mon-9");
  EXPECT_EQ(Status(r, "release_ip"), "skipped");  // any_failed: nothing failed
  std::string child_id = r["outputs"]["build_request"];
  json child = json::parse(stack_.Get("/v1/requests/" + child_id)->body);
  EXPECT_EQ(child["template"], "vm_build");
  EXPECT_EQ(child["trace_id"], r["trace_id"]);
  EXPECT_EQ(child["parent"]["request_id"], id);
  EXPECT_EQ(child["parent"]["task_id"], "build");
  EXPECT_EQ(child["data"]["ip"], "10.1.2.3");
  EXPECT_EQ(infra_.Count("POST /vms"), 1);
  // Both requests are listed under the trace.
  json list =
      json::parse(stack_.Get("/v1/requests?trace_id=" + r["trace_id"].get<std::string>())->body);
  EXPECT_EQ(list["requests"].size(), 2u);
}

TEST_F(Examples, VmRequestReleasesTheAddressWhenTheBuildFails) {
  infra_.Fail("POST /vms");
  json data = {
      {"services",
       {{"ipam", infra_.url()}, {"hypervisor", infra_.url()}, {"monitoring", infra_.url()}}},
      {"hostname", "dev-box-2"},
      {"network", "lab"},
      {"cpu", 2},
      {"memory_gb", 4},
      {"disk_gb", 20}};
  json r = stack_.WaitDone(stack_.Submit("vm_request", data), 60s);
  ASSERT_EQ(r["status"], "failed") << r.dump(2);
  EXPECT_EQ(Status(r, "build"), "failed");
  EXPECT_EQ(Status(r, "register_monitoring"), "skipped");
  EXPECT_EQ(Status(r, "release_ip"), "succeeded");
  EXPECT_EQ(infra_.Count("DELETE /allocations/alloc-1"), 1);
}

TEST_F(Examples, AutoscaleFansOutOverTheRequestedServers) {
  json r = stack_.WaitDone(
      stack_.Submit(
          "autoscale_add_servers",
          {{"capacity_api", infra_.url()}, {"pool", "web"}, {"count", 25}, {"size", "small"}}),
      60s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
  ASSERT_EQ(r["outputs"]["servers"].size(), 25u);
  EXPECT_EQ(r["outputs"]["servers"][7]["server_id"], "srv-7");
  EXPECT_EQ(r["outputs"]["servers"][7]["name"], "web-s7");
  EXPECT_EQ(r["outputs"]["pool_members"], 25);
  json group = TaskById(r, "create_server");
  ASSERT_EQ(group["instances"].size(), 25u);
  EXPECT_EQ(group["instances"][3]["id"], "create_server[3]");
  EXPECT_EQ(infra_.Count("POST /servers"), 25);
}

// ------------------------------------------------------------------ flow constructs

class Flow : public ::testing::Test {
 protected:
  json Run(const json& tmpl, const json& data = json::object()) {
    const std::string name = tmpl["name"];
    stack_.AddTemplate(name, tmpl);
    // The API picks the file up within a second; a template with errors never shows up.
    bool loaded = WaitFor(
        [&] {
          auto r = stack_.Get("/v1/templates/" + name);
          return r && r->status == 200;
        },
        10s);
    if (!loaded)
      throw std::runtime_error(name + " did not load: " + stack_.Get("/v1/templates")->body);
    return stack_.WaitDone(stack_.Submit(name, data), 60s);
  }
  void SetUp() override {
    stack_.StartApi();
    stack_.StartEngine("engine-1");
  }
  Infra infra_;
  Stack stack_;
};

TEST_F(Flow, TriggersAndConditions) {
  json r = Run(
      {{"name", "flow1"},
       {"tasks",
        {{{"id", "ok"}, {"type", "noop"}},
         {{"id", "always"}, {"type", "noop"}, {"depends_on", {"ok"}}, {"trigger", "all_done"}},
         {{"id", "no_alarm"}, {"type", "noop"}, {"depends_on", {"ok"}}, {"trigger", "any_failed"}},
         {{"id", "big_only"},
          {"type", "noop"},
          {"depends_on", {"ok"}},
          {"when", "${data.size} > 10"}},
         {{"id", "listed"}, {"type", "noop"}, {"when", "${data.env} in ['prod', 'staging']"}},
         {{"id", "off"}, {"type", "noop"}, {"when", false}},
         {{"id", "after_off"}, {"type", "noop"}, {"depends_on", {"off"}}},
         {{"id", "after_off_anyway"},
          {"type", "noop"},
          {"depends_on", {"off"}},
          {"trigger", "all_done"}}}}},
      {{"size", 3}, {"env", "prod"}});
  EXPECT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_TRUE(r["error"].is_null()) << r["error"];
  EXPECT_EQ(Status(r, "always"), "succeeded");
  EXPECT_EQ(Status(r, "no_alarm"), "skipped");
  EXPECT_EQ(Status(r, "big_only"), "skipped");
  EXPECT_EQ(Status(r, "listed"), "succeeded");
  EXPECT_EQ(Status(r, "off"), "skipped");
  EXPECT_EQ(Status(r, "after_off"), "skipped");
  EXPECT_EQ(Status(r, "after_off_anyway"), "succeeded");
}

TEST_F(Flow, ContinueAfterAFailureAndCompensate) {
  infra_.Fail("POST /vms");
  json r = Run({{"name", "flow2"},
                {"tasks",
                 {{{"id", "soft_fail"},
                   {"type", "http"},
                   {"on_failure", "continue"},
                   {"params", {{"method", "POST"}, {"url", infra_.url() + "/vms"}}}},
                  {{"id", "after_soft"}, {"type", "noop"}, {"depends_on", {"soft_fail"}}},
                  {{"id", "compensate"},
                   {"type", "noop"},
                   {"depends_on", {"soft_fail"}},
                   {"trigger", "any_failed"}},
                  {{"id", "always"},
                   {"type", "noop"},
                   {"depends_on", {"soft_fail"}},
                   {"trigger", "all_done"}}}}});
  EXPECT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_EQ(r["error"], "completed with failed tasks: soft_fail");
  EXPECT_EQ(Status(r, "soft_fail"), "failed");
  EXPECT_EQ(Status(r, "after_soft"), "skipped");
  EXPECT_EQ(Status(r, "compensate"), "succeeded");
  EXPECT_EQ(Status(r, "always"), "succeeded");
}

TEST_F(Flow, SetComputesValuesAndAThousandWideFanOutJoins) {
  json items = json::array();
  for (int i = 0; i < 1000; ++i) items.push_back(i);
  json r = Run({{"name", "wide"},
                {"tasks",
                 {{{"id", "prepare"},
                   {"type", "set"},
                   {"params", {{"items", "${data.items}"}, {"label", "n-${data.tag}"}}}},
                  {{"id", "each"},
                   {"type", "noop"},
                   {"depends_on", {"prepare"}},
                   {"for_each", "${tasks.prepare.outputs.items}"},
                   {"concurrency", 100},
                   {"params",
                    {{"outputs",
                      {{"n", "${item}"},
                       {"at", "${index}"},
                       {"label", "${tasks.prepare.outputs.label}"}}}}}},
                  {{"id", "join"},
                   {"type", "set"},
                   {"depends_on", {"each"}},
                   {"params",
                    {{"last", "${tasks.each.outputs.999.n}"},
                     {"label", "${tasks.each.outputs.0.label}"}}}}}}},
               {{"items", items}, {"tag", "x"}});
  ASSERT_EQ(r["status"], "succeeded") << r["error"];
  EXPECT_EQ(TaskById(r, "join")["outputs"], json({{"last", 999}, {"label", "n-x"}}));
  EXPECT_EQ(TaskById(r, "each")["instances"].size(), 1000u);
  EXPECT_EQ(
      stack_.Sql(
          "SELECT count(*) FROM task_runs WHERE task_id LIKE 'each[%' AND status = 'succeeded'"),
      "1000");
}

TEST_F(Flow, AFailedInstanceFailsItsGroupAndAnEmptyListSucceeds) {
  json r = Run({{"name", "fan_fail"},
                {"tasks",
                 {{{"id", "each"},
                   {"type", "http"},
                   {"for_each", "${data.paths}"},
                   {"params", {{"url", infra_.url() + "${item}"}}}},
                  {{"id", "none"}, {"type", "noop"}, {"for_each", json::array()}},
                  {{"id", "after_none"},
                   {"type", "set"},
                   {"depends_on", {"none"}},
                   {"params", {{"all", "${tasks.none.outputs}"}}}}}}},
               {{"paths", {"/network-configs/a", "/nope", "/network-configs/b"}}});
  EXPECT_EQ(r["status"], "failed");
  json each = TaskById(r, "each");
  EXPECT_EQ(each["status"], "failed");
  EXPECT_NE(each["error"].get<std::string>().find("1 of 3 instances failed"), std::string::npos)
      << each;
  EXPECT_EQ(each["instances"][1]["status"], "failed");
  EXPECT_EQ(TaskById(r, "none")["status"], "succeeded");
}

TEST_F(Flow, RequestDeadlineCancelsWaitingTasksAndRunsCleanup) {
  json r = Run(
      {{"name", "slowpoke"},
       {"timeout_ms", 1500},
       {"tasks",
        {{{"id", "forever"},
          {"type", "rest_job"},
          {"params",
           {{"create",
             {{"url", infra_.url() + "/vms"}, {"body", {{"hostname", "x"}}}, {"job_id", "/id"}}},
            {"poll",
             {{"url", infra_.url() + "/vms/{job_id}"},
              {"status", "/state"},
              {"success", {"never"}},
              {"failure", {"error"}},
              {"interval_ms", 200}}}}}},
         {{"id", "next"}, {"type", "noop"}, {"depends_on", {"forever"}}},
         {{"id", "cleanup"},
          {"type", "noop"},
          {"depends_on", {"forever"}},
          {"trigger", "all_done"}}}}});
  EXPECT_EQ(r["status"], "failed");
  EXPECT_NE(r["error"].get<std::string>().find("deadline"), std::string::npos) << r["error"];
  EXPECT_EQ(Status(r, "forever"), "cancelled");
  EXPECT_EQ(Status(r, "next"), "skipped");
  EXPECT_EQ(Status(r, "cleanup"), "succeeded");
}

TEST_F(Flow, AnAttemptOverItsTimeoutFailsRetryably) {
  TestHttpServer slow;
  std::atomic<int> calls{0};
  slow.server().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls == 1) std::this_thread::sleep_for(800ms);
    res.set_content("{}", "application/json");
  });
  slow.Start();
  json r = Run({{"name", "timeouts"},
                {"tasks",
                 {{{"id", "call"},
                   {"type", "http"},
                   {"timeout_ms", 300},
                   {"retry", {{"max_attempts", 2}, {"initial_delay_ms", 50}}},
                   {"params", {{"url", slow.url() + "/slow"}}}}}}});
  EXPECT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_EQ(TaskById(r, "call")["attempts"], 2);
}

TEST_F(Flow, ARunningRequestKeepsTheTemplateVersionItStartedWith) {
  // v1 waits on a job for a while, then reports "v1"; the file then changes to v2.
  json v1 = {
      {"name", "pinned"},
      {"tasks",
       {{{"id", "wait"},
         {"type", "rest_job"},
         {"params",
          {{"create",
            {{"url", infra_.url() + "/vms"}, {"body", {{"hostname", "p"}}}, {"job_id", "/id"}}},
           {"poll",
            {{"url", infra_.url() + "/vms/{job_id}"},
             {"status", "/state"},
             {"success", {"running"}},
             {"failure", {"error"}},
             {"interval_ms", 300}}}}}},
        {{"id", "report"},
         {"type", "set"},
         {"depends_on", {"wait"}},
         {"params", {{"version", "v1"}}}}}},
      {"outputs", {{"version", "${tasks.report.outputs.version}"}}}};
  stack_.AddTemplate("pinned", v1);
  ASSERT_TRUE(WaitFor([&] { return stack_.Get("/v1/templates/pinned")->status == 200; }, 10s));
  std::string v1_hash = json::parse(stack_.Get("/v1/templates/pinned")->body)["hash"];
  std::string id = stack_.Submit("pinned", json::object());
  json v2 = v1;
  v2["tasks"][1]["params"]["version"] = "v2";
  stack_.AddTemplate("pinned", v2);
  ASSERT_TRUE(WaitFor(
      [&] { return json::parse(stack_.Get("/v1/templates/pinned")->body)["hash"] != v1_hash; },
      10s));
  json r = stack_.WaitDone(id, 30s);
  EXPECT_EQ(r["status"], "succeeded");
  EXPECT_EQ(r["outputs"]["version"], "v1");
  EXPECT_EQ(r["template_hash"], v1_hash);
  // New submissions get the new version.
  r = stack_.WaitDone(stack_.Submit("pinned", json::object()), 30s);
  EXPECT_EQ(r["outputs"]["version"], "v2");
}

}  // namespace
}  // namespace wf::test
