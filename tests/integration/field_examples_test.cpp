// The shipped field workflows end to end, against test doubles of the outside systems:
// vm_unmanaged (AWX, monitoring, e-mail) and hybrid_vpc (three Terraform workspaces and an
// exec step between them).
#include <mutex>

#include "awx_double.h"
#include "harness.h"
#include "test_servers.h"
#include "tfe_double.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

class Monitoring {
 public:
  Monitoring() {
    http_.server().Post("/api/hosts", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      auth_ = req.get_header_value("Authorization");
      body_ = json::parse(req.body, nullptr, false);
      res.status = 201;
      res.set_content(R"({"id": "mon-77"})", "application/json");
    });
    http_.Start();
  }
  std::string url() const { return http_.url(); }
  json body() {
    std::lock_guard<std::mutex> lock(mu_);
    return body_;
  }
  std::string auth() {
    std::lock_guard<std::mutex> lock(mu_);
    return auth_;
  }

 private:
  TestHttpServer http_;
  std::mutex mu_;
  json body_;
  std::string auth_;
};

// vm_unmanaged's outside systems, and a stack whose secrets point at them.
class VmUnmanaged : public ::testing::Test {
 protected:
  void SetUp() override { awx_.AddTemplate(31, "vm-unmanaged-build"); }
  // Starts the services once the AWX double is set up as the test wants it.
  void Start() {
    stack_.SetEnv("WF_SECRET_AWX_ADDRESS", awx_.url());
    stack_.SetEnv("WF_SECRET_AWX_TOKEN", awx_.token());
    stack_.SetEnv("WF_SECRET_MONITORING_URL", monitoring_.url());
    stack_.SetEnv("WF_SECRET_MONITORING_TOKEN", "mon-token-5678");
    stack_.SetEnv("WF_SECRET_SMTP_URL", smtp_.url());
    stack_.StartApi();
    stack_.StartEngine("engine-1");
  }
  json Run(const std::string& hostname) {
    return stack_.WaitDone(stack_.Submit("vm_unmanaged", {{"hostname", hostname},
                                                          {"network", "vlan-120"},
                                                          {"cpu", 4},
                                                          {"memory_gb", 16},
                                                          {"disk_gb", 100},
                                                          {"requester", "ana@example.net"}}),
                           60s);
  }

  AwxDouble awx_;
  Monitoring monitoring_;
  SmtpReceiver smtp_;
  Stack stack_;
};

TEST_F(VmUnmanaged, BuildsRegistersAndTellsTheRequester) {
  awx_.SetArtifacts({{"ip", "10.20.30.40"}, {"vm_id", "vm-1234"}});
  Start();
  json r = Run("dev-box-7");
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2) << stack_.Logs();
  EXPECT_EQ(r["outputs"],
            json({{"ip", "10.20.30.40"}, {"vm_id", "vm-1234"}, {"monitoring_id", "mon-77"}}));
  EXPECT_EQ(TaskById(r, "tell_failed")["status"], "skipped");

  EXPECT_EQ(awx_.Launches(), 1);
  json launch = awx_.LastLaunchBody();
  EXPECT_EQ(launch["extra_vars"], json({{"hostname", "dev-box-7"},
                                        {"network", "vlan-120"},
                                        {"cpu", 4},
                                        {"memory_gb", 16},
                                        {"disk_gb", 100}}));
  EXPECT_EQ(launch["limit"], "dev-box-7");
  EXPECT_EQ(monitoring_.auth(), "Bearer mon-token-5678");
  EXPECT_EQ(monitoring_.body()["address"], "10.20.30.40");

  ASSERT_TRUE(smtp_.WaitForMessages(2));
  auto mails = smtp_.messages();
  ASSERT_EQ(mails.size(), 2u);
  EXPECT_EQ(mails[0].rcpt, std::vector<std::string>{"<ana@example.net>"});
  EXPECT_NE(mails[0].data.find("Subject: VM dev-box-7: request received"), std::string::npos)
      << mails[0].data;
  EXPECT_NE(mails[1].data.find("Subject: VM dev-box-7 is ready"), std::string::npos);
  EXPECT_NE(mails[1].data.find("10.20.30.40"), std::string::npos);
}

TEST_F(VmUnmanaged, TellsTheRequesterWhenTheBuildFails) {
  awx_.SetOutcome("failed");
  Start();
  json r = Run("dev-box-8");
  ASSERT_EQ(r["status"], "failed") << r.dump(2);
  EXPECT_EQ(TaskById(r, "register")["status"], "skipped");
  EXPECT_EQ(TaskById(r, "tell_failed")["status"], "succeeded");
  ASSERT_TRUE(smtp_.WaitForMessages(2));
  EXPECT_NE(smtp_.messages()[1].data.find("could not be built"), std::string::npos);
  EXPECT_TRUE(monitoring_.body().is_null());
}

TEST(FieldExamples, HybridVpcCarriesTheAwsStateToAzureAndBack) {
  TfeDouble tfe;
  tfe.AddWorkspace("netops", "aws-vpc", "ws-aws");
  tfe.AddWorkspace("netops", "azure-vnet", "ws-azure");
  tfe.AddWorkspace("netops", "aws-peering", "ws-peer");
  tfe.SetStateOutputs("ws-aws", {{"vpc_id", "vpc-0a1b"}, {"vpn_gateway_ip", "203.0.113.7"}});
  tfe.SetStateOutputs("ws-azure", {{"vnet_id", "vnet-42"}, {"vpn_gateway_ip", "198.51.100.9"}});
  tfe.SetStateOutputs("ws-peer", {{"connection_id", "vpn-c-9"}});
  Stack stack;
  stack.SetEnv("WF_SECRET_TFE_ADDRESS", tfe.url());
  stack.SetEnv("WF_SECRET_TFE_TOKEN", tfe.token());
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string id = stack.Submit("hybrid_vpc", {{"organization", "netops"},
                                                     {"name", "shop"},
                                                     {"aws_region", "eu-west-1"},
                                                     {"aws_cidr", "10.1.0.0/16"},
                                                     {"azure_region", "westeurope"},
                                                     {"azure_cidr", "10.2.0.0/16"}});
  json r = stack.WaitDone(id, 90s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2) << stack.Logs();
  EXPECT_EQ(
      r["outputs"],
      json({{"aws_vpc_id", "vpc-0a1b"}, {"azure_vnet_id", "vnet-42"}, {"peering_id", "vpn-c-9"}}));
  // The exec step turned the AWS state into the Azure side's variables.
  json t = TaskById(r, "translate")["outputs"];
  EXPECT_EQ(t, json({{"aws_vpc_id", "vpc-0a1b"},
                     {"aws_vpn_gateway_ip", "203.0.113.7"},
                     {"aws_cidr", "10.1.0.0/16"},
                     {"azure_cidr", "10.2.0.0/16"},
                     {"name", "shop-azure"}}));
  EXPECT_EQ(tfe.RunsCreated(), 3);
  // The last run (AWS peering) was given the Azure ids.
  json vars = tfe.LastRunRequest()["data"]["attributes"]["variables"];
  EXPECT_NE(vars.dump().find("vnet-42"), std::string::npos) << vars.dump();
  EXPECT_NE(vars.dump().find("198.51.100.9"), std::string::npos) << vars.dump();
}

}  // namespace
}  // namespace wf::test
