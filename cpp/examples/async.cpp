// async.cpp: many calls in flight at once, through futures and through
// completion handlers; then reads that check every value.
//
//   async 127.0.0.1:1025 [more addresses...]
//
// Exits non-zero (and prints what failed) when a check fails.
#include <elliptics/session.hpp>

#include "check.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ell = ioremap::elliptics;

static const int count = 100;

static std::string value_of(const std::string &prefix, int i) {
	return prefix + "-value-" + std::to_string(i) + std::string(static_cast<std::size_t>(i), 'x');
}

// countdown lets the main thread wait for n completion handlers.
class countdown {
public:
	explicit countdown(int n) : n_(n) {}
	void done() {
		std::lock_guard<std::mutex> lock(mu_);
		if (--n_ == 0)
			cv_.notify_all();
	}
	bool wait(std::chrono::seconds timeout) {
		std::unique_lock<std::mutex> lock(mu_);
		return cv_.wait_for(lock, timeout, [this] { return n_ <= 0; });
	}

private:
	std::mutex mu_;
	std::condition_variable cv_;
	int n_;
};

static void run(int argc, char **argv) {
	ell::node_config cfg;
	cfg.wait_timeout = std::chrono::seconds(20);
	ell::node n(cfg);
	ell::session s = examples::connect(n, argc, argv);
	const std::size_t groups = s.get_groups().size();
	CHECK(groups > 0);

	// 1. Writes through futures: all started, then all collected.
	{
		std::vector<std::future<std::vector<ell::result_entry>>> futures;
		for (int i = 0; i < count; ++i)
			futures.push_back(s.write_data("cpp-async-f-" + std::to_string(i), value_of("f", i)).to_future());
		for (int i = 0; i < count; ++i) {
			try {
				std::vector<ell::result_entry> entries = futures[static_cast<std::size_t>(i)].get();
				CHECK_EQ(entries.size(), groups);
				for (const auto &e : entries) {
					CHECK_EQ(e.status(), 0);
					CHECK_EQ(e.size(), value_of("f", i).size());
				}
			} catch (const std::exception &e) {
				::examples::fail(__FILE__, __LINE__, "future write " + std::to_string(i) + ": " + e.what());
			}
		}
	}

	// 2. Writes through completion handlers; the async_result is dropped at
	// once, the handlers still run.
	{
		countdown pending(count);
		std::mutex mu;
		std::vector<std::size_t> entries(count, 0);
		std::vector<int> finals(count, 0);
		std::vector<std::string> errors;
		for (int i = 0; i < count; ++i) {
			auto idx = static_cast<std::size_t>(i);
			s.write_data("cpp-async-c-" + std::to_string(i), value_of("c", i))
				.connect(
					[&, idx](const ell::result_entry &e) {
						std::lock_guard<std::mutex> lock(mu);
						++entries[idx];
						if (e.status() != 0)
							errors.push_back("entry of write " + std::to_string(idx) + ": " +
									 e.error_message());
					},
					[&, idx](const ell::error_info &info) {
						{
							std::lock_guard<std::mutex> lock(mu);
							++finals[idx];
							if (info)
								errors.push_back("write " + std::to_string(idx) + ": " +
										 info.message);
						}
						pending.done();
					});
		}
		if (!pending.wait(std::chrono::seconds(60))) {
			::examples::fail(__FILE__, __LINE__, "completion handlers did not all run in 60 s");
			// The handlers reference this frame: do not leave it while they may run.
			std::cerr << "async: giving up\n";
			std::exit(1);
		}
		std::lock_guard<std::mutex> lock(mu);
		for (const auto &e : errors)
			::examples::fail(__FILE__, __LINE__, e);
		for (std::size_t i = 0; i < entries.size(); ++i) {
			CHECK_EQ(entries[i], groups);
			CHECK_EQ(finals[i], 1);
		}
	}

	// 3. Reads of all 200 keys in flight at once, through futures.
	{
		std::vector<std::pair<std::string, std::future<std::vector<ell::result_entry>>>> reads;
		for (const char *prefix : {"f", "c"})
			for (int i = 0; i < count; ++i)
				reads.emplace_back(value_of(prefix, i),
						   s.read_data(std::string("cpp-async-") + prefix + "-" + std::to_string(i))
							   .to_future());
		for (auto &r : reads) {
			try {
				std::vector<ell::result_entry> entries = r.second.get();
				CHECK_EQ(entries.size(), std::size_t{1});
				if (!entries.empty())
					CHECK_EQ(entries.front().data(), r.first);
			} catch (const std::exception &e) {
				::examples::fail(__FILE__, __LINE__, "future read of " + r.first + ": " + e.what());
			}
		}
	}

	// 4. Reads through one whole-result handler each.
	{
		countdown pending(count);
		std::mutex mu;
		std::vector<std::string> got(count);
		std::vector<std::string> errors;
		for (int i = 0; i < count; ++i) {
			auto idx = static_cast<std::size_t>(i);
			s.read_data("cpp-async-c-" + std::to_string(i))
				.connect([&, idx](const std::vector<ell::result_entry> &entries, const ell::error_info &info) {
					{
						std::lock_guard<std::mutex> lock(mu);
						if (info)
							errors.push_back("read " + std::to_string(idx) + ": " + info.message);
						else if (entries.size() != 1)
							errors.push_back("read " + std::to_string(idx) + ": " +
									 std::to_string(entries.size()) + " entries");
						else
							got[idx] = entries.front().data();
					}
					pending.done();
				});
		}
		if (!pending.wait(std::chrono::seconds(60))) {
			::examples::fail(__FILE__, __LINE__, "read handlers did not all run in 60 s");
			std::cerr << "async: giving up\n";
			std::exit(1);
		}
		std::lock_guard<std::mutex> lock(mu);
		for (const auto &e : errors)
			::examples::fail(__FILE__, __LINE__, e);
		for (int i = 0; i < count; ++i)
			CHECK_EQ(got[static_cast<std::size_t>(i)], value_of("c", i));
	}

	// 5. Errors through futures and handlers: a missing key.
	{
		std::future<std::vector<ell::result_entry>> f = s.read_data("cpp-async-missing").to_future();
		CHECK_THROWS_CODE(f.get(), ell::not_found_error, -2);

		std::promise<ell::error_info> p;
		std::future<ell::error_info> pf = p.get_future();
		s.lookup("cpp-async-missing").connect(nullptr, [&p](const ell::error_info &info) { p.set_value(info); });
		if (pf.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
			::examples::fail(__FILE__, __LINE__, "lookup handler did not run");
			std::exit(1);
		}
		CHECK_EQ(pf.get().code, -2);
	}

	// 6. A handler connected after completion runs at once, on this thread.
	{
		ell::async_result r = s.read_data("cpp-async-f-7");
		r.wait();
		std::atomic<bool> ran{false};
		std::string data; // written before ran is set
		r.connect([&](const ell::result_entry &e) { data = e.data(); }, [&](const ell::error_info &) { ran = true; });
		// The completion callback may still be running on the library thread
		// just after wait(); give it a moment, then the handler has run.
		for (int i = 0; i < 500 && !ran; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		if (!ran) {
			::examples::fail(__FILE__, __LINE__, "a handler connected after wait() did not run");
			std::exit(1); // it references this frame
		}
		CHECK_EQ(data, value_of("f", 7));
		// Two consumers of one result: the future and get().
		ell::async_result r2 = s.read_data("cpp-async-f-8");
		auto f = r2.to_future();
		CHECK_EQ(r2.get_one().data(), value_of("f", 8));
		CHECK_EQ(f.get().at(0).data(), value_of("f", 8));
	}

	// 7. Iteration: entries of many results as they arrive.
	{
		std::vector<ell::async_result> results;
		for (int i = 0; i < count; ++i)
			results.push_back(s.read_data("cpp-async-f-" + std::to_string(i)));
		for (int i = 0; i < count; ++i) {
			std::size_t n = 0;
			try {
				for (const ell::result_entry &e : results[static_cast<std::size_t>(i)]) {
					CHECK_EQ(e.data(), value_of("f", i));
					++n;
				}
			} catch (const std::exception &e) {
				::examples::fail(__FILE__, __LINE__, "iterating read " + std::to_string(i) + ": " + e.what());
			}
			CHECK_EQ(n, std::size_t{1});
		}
	}

	// 8. Fire and forget: results dropped at once, never waited on. The
	// removes still happen (the operation's state lives until completion).
	{
		for (int i = 0; i < count; ++i)
			(void)s.remove("cpp-async-f-" + std::to_string(i));
		auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
		int left = count;
		while (left > 0 && std::chrono::steady_clock::now() < deadline) {
			left = 0;
			for (int i = 0; i < count; ++i)
				if (s.lookup("cpp-async-f-" + std::to_string(i)).error().code != ELL_ENOENT)
					++left;
			if (left > 0)
				std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
		CHECK_EQ(left, 0);
	}

	// 9. A node (and its session) closed with operations in flight: every
	// handler still runs once, with success or an error such as ECANCELED.
	{
		auto pending = std::make_shared<countdown>(count);
		auto finals = std::make_shared<std::atomic<int>>(0);
		{
			ell::node n2(cfg);
			ell::session s2 = examples::connect(n2, argc, argv);
			for (int i = 0; i < count; ++i)
				s2.write_data("cpp-async-closed-" + std::to_string(i), value_of("closed", i))
					.connect(nullptr, [pending, finals](const ell::error_info &) {
						++*finals;
						pending->done();
					});
		}
		CHECK(pending->wait(std::chrono::seconds(60)));
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		CHECK_EQ(finals->load(), count);
	}
}

int main(int argc, char **argv) {
	try {
		run(argc, argv);
	} catch (const std::exception &e) {
		std::cerr << "FAILED: uncaught exception: " << e.what() << "\n";
		return 1;
	}
	return examples::finish("async");
}
