// check.hpp: the examples' tiny check helpers. A failed check prints where
// and what, and makes the example exit non-zero at the end.
#ifndef ELLIPTICS_EXAMPLES_CHECK_HPP
#define ELLIPTICS_EXAMPLES_CHECK_HPP

#include <elliptics/session.hpp>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace examples {

inline std::atomic<int> &failures() {
	static std::atomic<int> n{0};
	return n;
}

inline void fail(const char *file, int line, const std::string &what) {
	std::ostringstream os;
	os << file << ":" << line << ": FAILED: " << what << "\n";
	std::cerr << os.str();
	++failures();
}

// The exit code: 0 when every check passed.
inline int finish(const char *name) {
	int n = failures();
	if (n != 0) {
		std::cerr << name << ": " << n << " check(s) failed\n";
		return 1;
	}
	std::cout << name << ": all checks passed\n";
	return 0;
}

// Connects to the addresses in argv and returns a session on every group
// the routes name.
inline ioremap::elliptics::session connect(ioremap::elliptics::node &n, int argc, char **argv) {
	std::vector<std::string> addrs(argv + 1, argv + argc);
	if (addrs.empty()) {
		std::cerr << "usage: " << argv[0] << " host:port...\n";
		std::exit(2);
	}
	n.add_remotes(addrs);
	std::set<std::uint32_t> groups;
	for (const auto &r : n.routes())
		groups.insert(r.group_id);
	ioremap::elliptics::session s(n);
	s.set_groups(std::vector<std::uint32_t>(groups.begin(), groups.end()));
	return s;
}

} // namespace examples

#define CHECK(cond)                                                                                                \
	do {                                                                                                       \
		if (!(cond))                                                                                       \
			::examples::fail(__FILE__, __LINE__, #cond);                                               \
	} while (0)

// CHECK_EQ prints both values when they differ.
#define CHECK_EQ(a, b)                                                                                             \
	do {                                                                                                       \
		const auto check_a_ = (a); /* copies: a may refer into a temporary */                              \
		const auto check_b_ = (b);                                                                         \
		if (!(check_a_ == check_b_)) {                                                                     \
			std::ostringstream check_os_;                                                              \
			check_os_ << #a << " == " << #b << " (" << check_a_ << " vs " << check_b_ << ")";         \
			::examples::fail(__FILE__, __LINE__, check_os_.str());                                    \
		}                                                                                                  \
	} while (0)

// CHECK_NOTHROW runs stmt and fails on any exception.
#define CHECK_NOTHROW(stmt)                                                                                        \
	do {                                                                                                       \
		try {                                                                                              \
			stmt;                                                                                      \
		} catch (const std::exception &check_e_) {                                                         \
			::examples::fail(__FILE__, __LINE__, std::string(#stmt " threw: ") + check_e_.what());    \
		}                                                                                                  \
	} while (0)

// CHECK_THROWS_CODE runs stmt and expects an elliptics error EXC with status
// code CODE.
#define CHECK_THROWS_CODE(stmt, EXC, CODE)                                                                         \
	do {                                                                                                       \
		try {                                                                                              \
			stmt;                                                                                      \
			::examples::fail(__FILE__, __LINE__, #stmt " did not throw " #EXC);                        \
		} catch (const EXC &check_e_) {                                                                    \
			if (check_e_.status() != (CODE)) {                                                         \
				std::ostringstream check_os_;                                                      \
				check_os_ << #stmt " threw " #EXC " with status " << check_e_.status()             \
					  << " (want " << (CODE) << "): " << check_e_.what();                     \
				::examples::fail(__FILE__, __LINE__, check_os_.str());                            \
			}                                                                                          \
		} catch (const std::exception &check_e_) {                                                         \
			::examples::fail(__FILE__, __LINE__,                                                       \
					 std::string(#stmt " threw another exception: ") + check_e_.what());      \
		}                                                                                                  \
	} while (0)

#endif // ELLIPTICS_EXAMPLES_CHECK_HPP
