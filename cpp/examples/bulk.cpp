// bulk.cpp: bulk_write of many keys, then bulk_read of them plus one key
// that does not exist.
//
//   bulk 127.0.0.1:1025 [more addresses...]
//
// Exits non-zero (and prints what failed) when a check fails.
#include <elliptics/session.hpp>

#include "check.hpp"

#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ell = ioremap::elliptics;

static void run(int argc, char **argv) {
	ell::node_config cfg;
	cfg.wait_timeout = std::chrono::seconds(20);
	ell::node n(cfg);
	ell::session s = examples::connect(n, argc, argv);
	const std::size_t groups = s.get_groups().size();
	CHECK(groups > 0);

	const std::size_t count = 20;
	std::vector<std::pair<ell::key, std::string>> items;
	for (std::size_t i = 0; i < count; ++i)
		items.emplace_back("cpp-bulk-" + std::to_string(i), "bulk value " + std::to_string(i * i));

	// bulk_write: an entry for every key in every group.
	{
		std::vector<ell::result_entry> entries = s.bulk_write(items).get();
		CHECK_EQ(entries.size(), count * groups);
		std::map<std::uint64_t, std::size_t> per_key;
		for (const auto &e : entries) {
			CHECK_EQ(e.status(), 0);
			CHECK(e.key_index() < count);
			if (e.key_index() < count)
				CHECK_EQ(e.id(), s.key_id(items[e.key_index()].first));
			++per_key[e.key_index()];
		}
		CHECK_EQ(per_key.size(), count);
		for (const auto &kv : per_key)
			CHECK_EQ(kv.second, groups);
	}

	// bulk_read with one missing key in the middle: one entry per key
	// found, key_index pointing into the request.
	std::vector<ell::key> keys;
	std::vector<std::string> want;
	for (std::size_t i = 0; i < count; ++i) {
		if (i == count / 2) {
			keys.emplace_back("cpp-bulk-missing");
			want.emplace_back();
		}
		keys.push_back(items[i].first);
		want.push_back(items[i].second);
	}
	const std::size_t missing = count / 2;
	{
		std::vector<ell::result_entry> entries = s.bulk_read(keys).get();
		CHECK_EQ(entries.size(), count);
		std::map<std::uint64_t, int> seen;
		for (const auto &e : entries) {
			CHECK_EQ(e.status(), 0);
			CHECK(e.key_index() < keys.size());
			CHECK(e.key_index() != missing);
			if (e.key_index() < keys.size() && e.key_index() != missing) {
				CHECK_EQ(e.data(), want[e.key_index()]);
				CHECK_EQ(e.id(), s.key_id(keys[e.key_index()]));
			}
			++seen[e.key_index()];
		}
		CHECK_EQ(seen.size(), count);
		for (const auto &kv : seen)
			CHECK_EQ(kv.second, 1);
	}

	// The same through iteration as entries arrive.
	{
		std::size_t n_entries = 0;
		for (const auto &e : s.bulk_read(keys)) {
			if (e.key_index() < keys.size())
				CHECK_EQ(e.data(), want[e.key_index()]);
			++n_entries;
		}
		CHECK_EQ(n_entries, count);
	}

	// With filters::all the missing key shows as a failed entry.
	{
		ell::session all = s.clone();
		all.set_filter(ell::filters::all);
		std::vector<ell::result_entry> entries = all.bulk_read(keys).get();
		std::size_t ok = 0, failed = 0;
		for (const auto &e : entries) {
			if (e.status() == 0) {
				++ok;
				CHECK(e.key_index() != missing);
			} else {
				++failed;
				CHECK_EQ(e.key_index(), missing);
				CHECK_EQ(e.status(), -2);
			}
		}
		CHECK_EQ(ok, count);
		CHECK(failed >= 1);
	}

	// Only missing keys: the call fails with not found (-2), and has no
	// entries.
	{
		ell::async_result r = s.bulk_read({ell::key("cpp-bulk-missing"), ell::key("cpp-bulk-missing-2")});
		CHECK_THROWS_CODE(r.get(), ell::not_found_error, -2);
		CHECK_EQ(r.count(), std::size_t{0});
	}

	// Clean up, and the keys are gone.
	for (const auto &item : items)
		CHECK_NOTHROW(s.remove(item.first).get());
	CHECK_THROWS_CODE(s.bulk_read(keys).get(), ell::not_found_error, -2);
}

int main(int argc, char **argv) {
	try {
		run(argc, argv);
	} catch (const std::exception &e) {
		std::cerr << "FAILED: uncaught exception: " << e.what() << "\n";
		return 1;
	}
	return examples::finish("bulk");
}
