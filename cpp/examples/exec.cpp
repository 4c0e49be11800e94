// exec.cpp: server-side scripts: store a Starlark script, run it on a key's
// node (a read-modify-write counter), on every node (fan-out), as jobs over
// many keys; limits and script errors as exceptions; list and remove.
//
//   exec 127.0.0.1:1025 [more addresses...]
//
// Exits non-zero (and prints what failed) when a check fails.
#include <elliptics/session.hpp>

#include "check.hpp"

#include <chrono>
#include <future>
#include <iostream>
#include <set>
#include <string>
#include <vector>

namespace ell = ioremap::elliptics;

static const char *const script_source = R"(
def incr(key, data):
    cur = read(key)
    n = 0
    if cur != None:
        n = int(str(cur))
    n += int(str(data)) if data else 1
    write(key, str(n))
    return n

def where():
    return node

def spin():
    while True:
        pass

def fail():
    return 1 // 0
)";

static void run(int argc, char **argv) {
	ell::node_config cfg;
	cfg.wait_timeout = std::chrono::seconds(10);
	cfg.name = "cpp-exec";
	ell::node n(cfg);
	ell::session s = examples::connect(n, argc, argv);
	const std::string name =
		"cpp-exec-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
	const std::string k = name + "-counter";

	ell::script_info info = s.put_script(name, script_source);
	CHECK_EQ(info.name, name);
	CHECK_EQ(info.version, 1u);
	CHECK_EQ(info.sha256.size(), 64u);

	// A counter on the key's node: 1, then +41.
	ell::exec_result r = s.exec(k, name + "@incr").get();
	CHECK_EQ(r.data, "1");
	r = s.exec(k, name + "@incr", "41").get();
	CHECK_EQ(r.data, "42");
	CHECK_EQ(r.key, k);
	CHECK(r.key_id.has_value() && *r.key_id == s.key_id(k));
	CHECK(!r.address.empty());
	CHECK(r.error.ok());
	CHECK_EQ(s.read_data(k).get_one().data(), "42");

	// Fan-out: one result per node, each from a different node.
	std::vector<ell::exec_result> all = s.exec_all(name + "@where").get();
	std::set<std::string> addrs;
	for (const auto &e : all) {
		CHECK(e.error.ok());
		CHECK(e.key.empty() && !e.key_id);
		addrs.insert(e.address);
	}
	CHECK_EQ(all.size(), static_cast<std::size_t>(argc - 1));
	CHECK_EQ(addrs.size(), all.size());

	// Jobs: one result per key, in order.
	std::vector<std::string> keys;
	for (int i = 0; i < 50; ++i)
		keys.push_back(name + "-job-" + std::to_string(i));
	std::vector<ell::exec_result> jobs = s.run_jobs(name + "@incr", keys, "", 8);
	CHECK_EQ(jobs.size(), keys.size());
	for (std::size_t i = 0; i < jobs.size(); ++i) {
		CHECK_EQ(jobs[i].key, keys[i]);
		CHECK_EQ(jobs[i].data, "1");
	}

	// Limits and script errors are exceptions with their status.
	ell::exec_limits steps;
	steps.steps = 10000;
	CHECK_THROWS_CODE(s.exec(k, name + "@spin", "", steps).get(), ell::error, ELL_EMSGSIZE);
	ell::exec_limits quick;
	quick.timeout = std::chrono::milliseconds(20);
	CHECK_THROWS_CODE(s.exec(k, name + "@spin", "", quick).get(), ell::timeout_error, ELL_ETIMEDOUT);
	CHECK_THROWS_CODE(s.exec(k, name + "@fail").get(), ell::error, ELL_EINVAL);
	CHECK_THROWS_CODE(s.exec(k, name + "-missing@f").get(), ell::not_found_error, ELL_ENOENT);

	// Versions, list, remove.
	CHECK_EQ(s.put_script(name, "def where():\n    return 2\n").version, 2u);
	CHECK(s.get_script(name, 1).source == script_source);
	bool listed = false;
	for (const auto &i : s.list_scripts())
		listed = listed || (i.name == name && i.version == 2);
	CHECK(listed);
	CHECK_NOTHROW(s.remove_script(name));
	CHECK_THROWS_CODE((void)s.get_script(name), ell::not_found_error, ELL_ENOENT);
	std::cout << "exec: counter " << r.data << " on " << r.address << ", fan-out over " << all.size()
		  << " nodes, " << jobs.size() << " jobs\n";
}

int main(int argc, char **argv) {
	try {
		run(argc, argv);
	} catch (const std::exception &e) {
		std::cerr << "FAILED: uncaught exception: " << e.what() << "\n";
		return 1;
	}
	return examples::finish("exec");
}
