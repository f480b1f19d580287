// exec: run a program and use its stdout as the task's outputs.
//
// The program is started directly with an argv array (never through a shell), in its own
// process group, with only the environment it is given. It receives a JSON document on
// stdin (`input`, by default the request's data) and must print one JSON object on
// stdout, which becomes the task's outputs: a chain of exec steps passes the state along,
// each step returning it enriched. Lines on stderr go to the task's log.
//
// Params:
//   argv                  required: [program, args...]; the program is an absolute path,
//                         or a bare name looked up in `search_path`
//   search_path           directories (absolute) to look a bare program name up in;
//                         default ["/usr/local/bin", "/usr/bin", "/bin"]
//   input                 any JSON value, written to stdin; default the request's data
//   env                   object: variable name -> string
//   inherit_env           names of the engine's variables to pass on (when set)
//   cwd                   absolute working directory; default "/"
//   timeout_ms            default 60000, and never past the task's deadline
//   kill_grace_ms         SIGTERM to SIGKILL on timeout or cancellation; default 2000
//   max_output_bytes      limit for stdout and for stderr each; default 1 MiB
//   retryable_exit_codes  exit codes that fail the task as retryable; default none
//
// Outcome: exit 0 with a JSON object on stdout succeeds with that object as outputs.
// Exit 0 with anything else on stdout, a non-zero exit (unless listed in
// retryable_exit_codes), death by a signal, output over the limit and cancellation fail
// for good; a timeout fails retryably. The process group is killed (SIGTERM, then SIGKILL)
// on timeout, cancellation and output overflow, and whatever the program leaves running in
// its process group is killed when it exits. The child is always reaped.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "builtin.h"
#include "params.h"

namespace wf {
namespace {

using Clock = std::chrono::steady_clock;
using params::IsIntIn;
using params::MustBe;

constexpr int64_t kMaxTimeoutMs = 24LL * 60 * 60 * 1000;
constexpr int64_t kMaxOutputBytes = 64LL << 20;
constexpr size_t kLogLineBytes = 4096;
constexpr size_t kErrorTailBytes = 512;
const std::vector<std::string> kDefaultSearchPath = {"/usr/local/bin", "/usr/bin", "/bin"};

bool IsEnvName(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

Status CheckStringArray(const json& params, const char* key, const std::string& path,
                        bool allow_expressions, bool required, bool env_names,
                        bool absolute_paths) {
  auto expr = [&](const json& v) { return allow_expressions && IsExpression(v); };
  std::string apath = JsonPathJoin(path, key);
  auto it = params.find(key);
  if (it == params.end()) {
    return required ? Status::Invalid(std::string("'") + key + "' is required", apath)
                    : Status::Ok();
  }
  if (expr(*it)) return Status::Ok();
  if (!it->is_array()) return Status::Invalid(MustBe("an array of strings", *it), apath);
  if (required && it->empty()) return Status::Invalid("must not be empty", apath);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    std::string vpath = JsonPathJoin(apath, i);
    if (expr(v)) continue;
    if (!v.is_string()) return Status::Invalid(MustBe("a string", v), vpath);
    const auto& s = v.get_ref<const std::string&>();
    if (HasNul(s)) return Status::Invalid("must not contain NUL characters", vpath);
    if (env_names && !IsEnvName(s)) {
      return Status::Invalid("must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                             vpath);
    }
    if (absolute_paths && (s.empty() || s[0] != '/')) {
      return Status::Invalid("must be an absolute directory", vpath);
    }
  }
  return Status::Ok();
}

Status CheckParams(const json& p, const std::string& path, bool allow_expressions) {
  auto expr = [&](const json& v) { return allow_expressions && IsExpression(v); };
  if (Status s = params::CheckObjectKeys(
          p,
          {"argv", "search_path", "input", "env", "inherit_env", "cwd", "timeout_ms",
           "kill_grace_ms", "max_output_bytes", "retryable_exit_codes"},
          path);
      !s.ok()) {
    return s;
  }
  if (Status s = CheckStringArray(p, "argv", path, allow_expressions, true, false, false);
      !s.ok()) {
    return s;
  }
  if (const json& argv = p["argv"];
      argv.is_array() && !argv.empty() && argv[0].is_string() && !expr(argv[0])) {
    const auto& program = argv[0].get_ref<const std::string&>();
    if (program.empty()) {
      return Status::Invalid("must name a program", JsonPathJoin(JsonPathJoin(path, "argv"), 0));
    }
    if (program[0] != '/' && program.find('/') != std::string::npos) {
      return Status::Invalid(
          "must be an absolute path or a bare name looked up in search_path, not a relative path",
          JsonPathJoin(JsonPathJoin(path, "argv"), 0));
    }
  }
  if (Status s = CheckStringArray(p, "search_path", path, allow_expressions, false, false, true);
      !s.ok()) {
    return s;
  }
  if (Status s = CheckStringArray(p, "inherit_env", path, allow_expressions, false, true, false);
      !s.ok()) {
    return s;
  }
  if (auto it = p.find("env"); it != p.end() && !expr(*it)) {
    std::string epath = JsonPathJoin(path, "env");
    if (!it->is_object()) return Status::Invalid(MustBe("an object", *it), epath);
    for (const auto& [name, value] : it->items()) {
      std::string vpath = JsonPathJoin(epath, name);
      if (!IsEnvName(name)) {
        return Status::Invalid("must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                               vpath);
      }
      if (expr(value)) continue;
      if (!value.is_string()) return Status::Invalid(MustBe("a string", value), vpath);
      if (HasNul(value.get_ref<const std::string&>())) {
        return Status::Invalid("must not contain NUL characters", vpath);
      }
    }
  }
  if (auto it = p.find("cwd"); it != p.end() && !expr(*it)) {
    std::string cpath = JsonPathJoin(path, "cwd");
    if (!it->is_string()) return Status::Invalid(MustBe("a string", *it), cpath);
    const auto& cwd = it->get_ref<const std::string&>();
    if (cwd.empty() || cwd[0] != '/' || HasNul(cwd)) {
      return Status::Invalid("must be an absolute directory", cpath);
    }
  }
  struct Limit {
    const char* key;
    int64_t lo, hi;
    const char* what;
  };
  for (const Limit& l :
       {Limit{"timeout_ms", 1, kMaxTimeoutMs, "a positive integer (milliseconds, at most one day)"},
        Limit{"kill_grace_ms", 0, 60000, "an integer in 0..60000 (milliseconds)"},
        Limit{"max_output_bytes", 1, kMaxOutputBytes, "an integer in 1..67108864 (bytes)"}}) {
    if (auto it = p.find(l.key); it != p.end() && !expr(*it) && !IsIntIn(*it, l.lo, l.hi)) {
      return Status::Invalid(MustBe(l.what, *it), JsonPathJoin(path, l.key));
    }
  }
  if (auto it = p.find("retryable_exit_codes"); it != p.end() && !expr(*it)) {
    std::string rpath = JsonPathJoin(path, "retryable_exit_codes");
    if (!it->is_array()) return Status::Invalid(MustBe("an array of exit codes", *it), rpath);
    for (size_t i = 0; i < it->size(); ++i) {
      const json& v = (*it)[i];
      if (!expr(v) && !IsIntIn(v, 1, 255)) {
        return Status::Invalid(MustBe("an exit code (an integer in 1..255)", v),
                               JsonPathJoin(rpath, i));
      }
    }
  }
  return Status::Ok();
}

struct ExecParams {
  std::vector<std::string> argv;
  std::vector<std::string> search_path = kDefaultSearchPath;
  std::string input;
  std::vector<std::string> env;  // NAME=value
  std::string cwd = "/";
  int64_t timeout_ms = 60000;
  int64_t kill_grace_ms = 2000;
  size_t max_output_bytes = 1 << 20;
  std::vector<int> retryable_exit_codes;
};

ExecParams ExtractParams(const json& p, const json& data) {
  ExecParams e;
  e.argv = p["argv"].get<std::vector<std::string>>();
  if (auto it = p.find("search_path"); it != p.end())
    e.search_path = it->get<std::vector<std::string>>();
  const json& input = p.contains("input") ? p["input"] : data;
  e.input = input.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  json env = json::object();
  if (auto it = p.find("inherit_env"); it != p.end()) {
    for (const auto& name : *it) {
      if (const char* value = std::getenv(name.get_ref<const std::string&>().c_str())) {
        env[name.get<std::string>()] = value;
      }
    }
  }
  if (auto it = p.find("env"); it != p.end()) {
    for (const auto& [name, value] : it->items()) env[name] = value;
  }
  for (const auto& [name, value] : env.items()) {
    e.env.push_back(name + "=" + value.get<std::string>());
  }
  if (auto it = p.find("cwd"); it != p.end()) e.cwd = it->get<std::string>();
  if (auto it = p.find("timeout_ms"); it != p.end()) e.timeout_ms = it->get<int64_t>();
  if (auto it = p.find("kill_grace_ms"); it != p.end()) e.kill_grace_ms = it->get<int64_t>();
  if (auto it = p.find("max_output_bytes"); it != p.end()) {
    e.max_output_bytes = it->get<size_t>();
  }
  if (auto it = p.find("retryable_exit_codes"); it != p.end()) {
    e.retryable_exit_codes = it->get<std::vector<int>>();
  }
  return e;
}

// The program to execve: argv[0] itself when absolute, else the first executable regular
// file named argv[0] in the search path.
Result<std::string> FindProgram(const ExecParams& e) {
  const std::string& name = e.argv[0];
  if (name[0] == '/') return name;
  for (const auto& dir : e.search_path) {
    std::string candidate = dir + (dir.back() == '/' ? "" : "/") + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  std::string dirs;
  for (const auto& dir : e.search_path) dirs += (dirs.empty() ? "" : ":") + dir;
  return Status::NotFound("program '" + name + "' not found in search_path (" + dirs + ")");
}

// Closes a file descriptor once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void Reset(int fd) {
    Close();
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

bool MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  return true;
}

// Why the child could not exec, sent over a close-on-exec pipe.
struct ChildError {
  int stage;  // 0 chdir, 1 execve
  int error;
};

// Blocks SIGPIPE in the calling thread for its lifetime, so that writing to a child that
// closed its stdin gives EPIPE instead of a signal, and discards a SIGPIPE left pending.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~SigpipeBlock() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
};

// Collects stderr and hands it to the log line by line.
class LineLogger {
 public:
  explicit LineLogger(spdlog::logger& log) : log_(log) {}
  void Add(const char* data, size_t n) {
    pending_.append(data, n);
    size_t start = 0;
    for (size_t nl = pending_.find('\n'); nl != std::string::npos;
         nl = pending_.find('\n', start)) {
      Emit(std::string_view(pending_).substr(start, nl - start));
      start = nl + 1;
    }
    pending_.erase(0, start);
    if (pending_.size() > kLogLineBytes) {
      Emit(pending_);
      pending_.clear();
    }
  }
  void Flush() {
    if (!pending_.empty()) Emit(pending_);
    pending_.clear();
  }

 private:
  void Emit(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    log_.info("stderr: {}", params::Snippet(line, kLogLineBytes));
  }
  spdlog::logger& log_;
  std::string pending_;
};

class ExecTask : public Task {
 public:
  Status Validate(const json& params, const std::string& json_path) const override {
    return CheckParams(params, json_path, /*allow_expressions=*/true);
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    if (Status s = CheckParams(ctx.params(), "", /*allow_expressions=*/false); !s.ok()) {
      return TaskOutcome::Failed(params::InvalidParamsMessage(s));
    }
    ExecParams e = ExtractParams(ctx.params(), ctx.data());
    Result<std::string> program = FindProgram(e);
    if (!program.ok()) return TaskOutcome::Failed(program.status().message());
    const std::string& name = e.argv[0];

    auto start = Clock::now();
    auto deadline = start + std::chrono::milliseconds(e.timeout_ms);
    bool deadline_is_task_deadline = false;
    if (ctx.deadline() != Clock::time_point{} && ctx.deadline() < deadline) {
      deadline = ctx.deadline();
      deadline_is_task_deadline = true;
    }

    // Everything the child needs is built before fork(): after it, only async-signal-safe
    // calls are allowed (other threads may hold locks).
    std::vector<char*> argv;
    for (auto& a : e.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& v : e.env) envp.push_back(v.data());
    envp.push_back(nullptr);
    const char* path = program->c_str();
    const char* cwd = e.cwd.c_str();

    Fd in_r, in_w, out_r, out_w, err_r, err_w, status_r, status_w;
    if (!MakePipe(&in_r, &in_w) || !MakePipe(&out_r, &out_w) || !MakePipe(&err_r, &err_w) ||
        !MakePipe(&status_r, &status_w)) {
      return TaskOutcome::Failed(std::string("cannot create pipes: ") + std::strerror(errno),
                                 /*retryable=*/true);
    }
    SigpipeBlock sigpipe_block;
    pid_t pid = fork();
    if (pid < 0) {
      return TaskOutcome::Failed(std::string("cannot fork: ") + std::strerror(errno),
                                 /*retryable=*/true);
    }
    if (pid == 0) {
      RunChild(path, argv.data(), envp.data(), cwd, in_r.get(), out_w.get(), err_w.get(),
               status_w.get());
    }
    setpgid(pid, pid);  // also done by the child; whichever runs first wins the race
    in_r.Close();
    out_w.Close();
    err_w.Close();
    status_w.Close();

    ChildError child_error{};
    ssize_t got;
    do {
      got = read(status_r.get(), &child_error, sizeof child_error);
    } while (got < 0 && errno == EINTR);
    if (got == static_cast<ssize_t>(sizeof child_error)) {
      int status;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return TaskOutcome::Failed(std::string(child_error.stage == 0
                                                 ? "cannot change to directory " + e.cwd
                                                 : "cannot execute " + *program) +
                                 ": " + std::strerror(child_error.error));
    }
    ctx.log().info("exec {} (pid {})", *program, pid);
    // Readable once the child exits, so its end is noticed at once (Linux 5.3+; without
    // it the loop below notices within its 50 ms tick).
    Fd exit_fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

    for (int fd : {in_w.get(), out_r.get(), err_r.get()}) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    std::string out, err_tail;
    size_t err_bytes = 0, written = 0;
    LineLogger err_log(ctx.log());
    enum class Stop { kNone, kTimeout, kCancelled, kStdoutLimit, kStderrLimit };
    Stop stop = Stop::kNone;
    bool exited = false;

    auto drain = [&](Fd& fd, bool is_stdout) {
      char buf[65536];
      while (fd.get() >= 0) {
        ssize_t n = read(fd.get(), buf, sizeof buf);
        if (n > 0) {
          if (is_stdout) {
            out.append(buf, static_cast<size_t>(n));
          } else {
            err_bytes += static_cast<size_t>(n);
            err_log.Add(buf, static_cast<size_t>(n));
            err_tail.append(buf, static_cast<size_t>(n));
            if (err_tail.size() > 2 * kErrorTailBytes)
              err_tail.erase(0, err_tail.size() - kErrorTailBytes);
          }
          if (out.size() > e.max_output_bytes || err_bytes > e.max_output_bytes) return;
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        fd.Close();  // EOF or error
      }
    };
    auto child_exited = [&] {
      siginfo_t info{};
      // WNOWAIT: the child stays a zombie, so its pid (and process group id) cannot be
      // reused before the group is killed and the child reaped below.
      return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
             info.si_pid == pid;
    };

    while (true) {
      if (ctx.cancelled()) {
        stop = Stop::kCancelled;
        break;
      }
      if (out.size() > e.max_output_bytes) {
        stop = Stop::kStdoutLimit;
        break;
      }
      if (err_bytes > e.max_output_bytes) {
        stop = Stop::kStderrLimit;
        break;
      }
      if (!exited && child_exited()) {
        exited = true;
        kill(-pid, SIGKILL);  // whatever it left behind in its group
      }
      if (exited && out_r.get() < 0 && err_r.get() < 0) break;
      auto now = Clock::now();
      if (now >= deadline) {
        stop = Stop::kTimeout;
        break;
      }
      pollfd fds[4];
      nfds_t n = 0;
      if (!exited && exit_fd.get() >= 0) fds[n++] = {exit_fd.get(), POLLIN, 0};
      if (in_w.get() >= 0) fds[n++] = {in_w.get(), POLLOUT, 0};
      if (out_r.get() >= 0) fds[n++] = {out_r.get(), POLLIN, 0};
      if (err_r.get() >= 0) fds[n++] = {err_r.get(), POLLIN, 0};
      // Wake up at least every 50 ms to notice cancellation and the child's exit.
      auto wait_ms = std::min<int64_t>(
          50, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
      int ready = poll(fds, n, static_cast<int>(wait_ms));
      if (ready < 0 && errno != EINTR) break;
      if (in_w.get() >= 0) {
        while (written < e.input.size()) {
          ssize_t w = write(in_w.get(), e.input.data() + written, e.input.size() - written);
          if (w > 0) {
            written += static_cast<size_t>(w);
          } else if (w < 0 && errno == EINTR) {
            continue;
          } else {
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) written = e.input.size();
            break;  // EPIPE: the program does not read its stdin; that is its business
          }
        }
        if (written >= e.input.size()) in_w.Close();
      }
      drain(out_r, true);
      drain(err_r, false);
    }
    in_w.Close();

    if (stop != Stop::kNone && !exited) {
      kill(-pid, SIGTERM);
      auto grace_end = Clock::now() + std::chrono::milliseconds(e.kill_grace_ms);
      while (!child_exited() && Clock::now() < grace_end) {
        pollfd fds[3];
        nfds_t n = 0;
        if (exit_fd.get() >= 0) fds[n++] = {exit_fd.get(), POLLIN, 0};
        // Output past the limit is no longer read (the program is being killed anyway).
        bool read_out = out_r.get() >= 0 && out.size() <= e.max_output_bytes;
        bool read_err = err_r.get() >= 0 && err_bytes <= e.max_output_bytes;
        if (read_out) fds[n++] = {out_r.get(), POLLIN, 0};
        if (read_err) fds[n++] = {err_r.get(), POLLIN, 0};
        poll(fds, n, 10);
        if (read_out) drain(out_r, true);
        if (read_err) drain(err_r, false);
      }
    }
    kill(-pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    err_log.Flush();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();

    std::string tail;
    if (!err_tail.empty()) {
      std::string_view t(err_tail);
      while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
      if (t.size() > kErrorTailBytes) t = t.substr(t.size() - kErrorTailBytes);
      if (!t.empty()) tail = "; stderr: " + params::Snippet(t, kErrorTailBytes);
    }
    switch (stop) {
      case Stop::kCancelled:
        ctx.log().info("exec {} cancelled after {} ms; killed", name, ms);
        return TaskOutcome::Failed(name + ": cancelled; the process was killed");
      case Stop::kTimeout:
        ctx.log().info("exec {} timed out after {} ms; killed", name, ms);
        return TaskOutcome::Failed(name + ": timed out after " + std::to_string(ms) + " ms" +
                                       (deadline_is_task_deadline ? " (the task's deadline)" : "") +
                                       "; the process was killed" + tail,
                                   /*retryable=*/true);
      case Stop::kStdoutLimit:
      case Stop::kStderrLimit:
        return TaskOutcome::Failed(name + ": wrote more than " +
                                   std::to_string(e.max_output_bytes) + " bytes to " +
                                   (stop == Stop::kStdoutLimit ? "stdout" : "stderr") +
                                   " (max_output_bytes); the process was killed");
      case Stop::kNone:
        break;
    }
    if (WIFSIGNALED(status)) {
      ctx.log().info("exec {} killed by signal {} after {} ms", name, WTERMSIG(status), ms);
      return TaskOutcome::Failed(name + ": killed by signal " + std::to_string(WTERMSIG(status)) +
                                 " (" + strsignal(WTERMSIG(status)) + ")" + tail);
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    ctx.log().info("exec {} exited with status {} in {} ms", name, code, ms);
    if (code != 0) {
      bool retryable = std::find(e.retryable_exit_codes.begin(), e.retryable_exit_codes.end(),
                                 code) != e.retryable_exit_codes.end();
      return TaskOutcome::Failed(name + ": exited with status " + std::to_string(code) + tail,
                                 retryable);
    }
    json outputs = json::parse(out, nullptr, /*allow_exceptions=*/false);
    if (outputs.is_discarded() || !outputs.is_object()) {
      std::string what =
          out.find_first_not_of(" \t\r\n") == std::string::npos ? "printed nothing on stdout"
          : outputs.is_discarded()
              ? "printed something that is not JSON on stdout: " +
                    params::Snippet(out, kErrorTailBytes)
              : std::string("printed a JSON ") + JsonTypeName(outputs) + " on stdout";
      return TaskOutcome::Failed(name + ": exited with status 0 but " + what +
                                 "; it must print one JSON object (the task's outputs)");
    }
    return TaskOutcome::Succeeded(std::move(outputs));
  }

 private:
  // In the child, between fork() and execve(): async-signal-safe calls only.
  [[noreturn]] static void RunChild(const char* path, char* const* argv, char* const* envp,
                                    const char* cwd, int in, int out, int err, int status) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
      sigaction(sig, &dfl, nullptr);
    }
    setpgid(0, 0);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    // Descriptors the engine opened without close-on-exec must not leak into the program.
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < 4096; ++fd) {
        if (fd != status) fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
    }
    ChildError e{0, 0};
    if (chdir(cwd) != 0) {
      e = {0, errno};
    } else {
      execve(path, argv, envp);
      e = {1, errno};
    }
    ssize_t ignored = write(status, &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
};

}  // namespace

std::unique_ptr<Task> MakeExecTask() { return std::make_unique<ExecTask>(); }

}  // namespace wf
