// exec.hpp: the types of server-side scripts (session::exec, exec_all,
// run_jobs, put_script, get_script, list_scripts, remove_script), and the
// small JSON reader their C calls' replies need (ell_session_exec and the
// ell_session_script_* calls answer in JSON: capi/elliptics.h).
#ifndef ELLIPTICS_EXEC_HPP
#define ELLIPTICS_EXEC_HPP

#include <elliptics.h>
#include <elliptics/error.hpp>
#include <elliptics/key.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ioremap {
namespace elliptics {

// Lowers the node's script limits for one call (ell_exec_limits); zero
// fields keep the node's. A steps, bytes or memory budget exceeded fails
// with -90 (EMSGSIZE), the time limit with -110 (timeout_error).
struct exec_limits {
	std::uint64_t steps = 0;
	std::chrono::milliseconds timeout{0};
	std::uint64_t read_bytes = 0;
	std::uint64_t write_bytes = 0;
	std::uint64_t result_bytes = 0;
	std::uint64_t memory = 0;

	[[nodiscard]] ell_exec_limits to_c() const noexcept {
		ell_exec_limits c{};
		c.steps = steps;
		c.timeout_ms = timeout.count();
		c.read_bytes = read_bytes;
		c.write_bytes = write_bytes;
		c.result_bytes = result_bytes;
		c.memory = memory;
		return c;
	}
};

// One run of a script: the node and group that ran it and what the function
// returned (bytes as is, str as UTF-8, other values as JSON), or the error
// that stopped it (fan-out and run_jobs results; exec throws instead).
struct exec_result {
	std::string event;   // "script@function"
	std::string key;     // the key it ran on; "" for a fan-out
	std::optional<id> key_id; // the key's ID; none for a fan-out
	std::string address; // "host:port" of the node
	std::uint32_t group = 0;
	std::string data;    // the function's result
	std::chrono::duration<double> duration{0};
	error_info error;    // code 0 when it ran and returned
};

// A stored script's version.
struct script_info {
	std::string name;
	std::uint64_t version = 0; // 1 for the first
	std::uint64_t size = 0;    // of the source, in bytes
	std::string updated;       // RFC 3339, UTC
	std::string sha256;        // of the source, hex
};

// A stored script: its description and its source.
struct script_record : script_info {
	std::string source;
};

namespace detail {

// json_doc owns an ell_json the library filled (RAII: ell_json_free).
class json_doc {
public:
	json_doc() noexcept = default;
	json_doc(const json_doc &) = delete;
	json_doc &operator=(const json_doc &) = delete;
	~json_doc() { ell_json_free(&j_); }

	ell_json *out() noexcept { return &j_; }
	[[nodiscard]] std::string_view text() const noexcept {
		return j_.data != nullptr ? std::string_view(j_.data, j_.size) : std::string_view();
	}

private:
	ell_json j_{};
};

// A parsed JSON value: enough of JSON for the library's replies (objects,
// arrays, strings with escapes, numbers, true, false, null).
struct json {
	enum class kind { null, boolean, number, string, array, object };
	kind type = kind::null;
	bool b = false;
	double num = 0;
	std::string str;
	std::vector<json> arr;
	std::map<std::string, json> obj;

	// The member name of an object, or a null value.
	[[nodiscard]] const json &operator[](const std::string &name) const {
		static const json none;
		auto it = obj.find(name);
		return it != obj.end() ? it->second : none;
	}
	[[nodiscard]] std::string as_string() const { return type == kind::string ? str : std::string(); }
	[[nodiscard]] std::uint64_t as_u64() const { return type == kind::number && num > 0 ? static_cast<std::uint64_t>(num) : 0; }
	[[nodiscard]] std::int64_t as_i64() const { return type == kind::number ? static_cast<std::int64_t>(num) : 0; }

	static json parse(std::string_view s) {
		std::size_t i = 0;
		json v = value(s, i);
		skip(s, i);
		if (i != s.size())
			bad("trailing bytes");
		return v;
	}

private:
	[[noreturn]] static void bad(const char *what) {
		throw error(ELL_EPROTO, std::string("elliptics: bad JSON from the library: ") + what);
	}
	static void skip(std::string_view s, std::size_t &i) {
		while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
			++i;
	}
	static void expect(std::string_view s, std::size_t &i, std::string_view word) {
		if (s.substr(i, word.size()) != word)
			bad("unexpected token");
		i += word.size();
	}
	static unsigned hex4(std::string_view s, std::size_t i) {
		if (i + 4 > s.size())
			bad("short \\u escape");
		unsigned v = 0;
		for (std::size_t k = i; k < i + 4; ++k) {
			char c = s[k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= static_cast<unsigned>(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= static_cast<unsigned>(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= static_cast<unsigned>(c - 'A' + 10);
			else
				bad("bad \\u escape");
		}
		return v;
	}
	static void utf8(std::string &out, unsigned cp) {
		if (cp < 0x80) {
			out += static_cast<char>(cp);
		} else if (cp < 0x800) {
			out += static_cast<char>(0xC0 | (cp >> 6));
			out += static_cast<char>(0x80 | (cp & 0x3F));
		} else if (cp < 0x10000) {
			out += static_cast<char>(0xE0 | (cp >> 12));
			out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
			out += static_cast<char>(0x80 | (cp & 0x3F));
		} else {
			out += static_cast<char>(0xF0 | (cp >> 18));
			out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
			out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
			out += static_cast<char>(0x80 | (cp & 0x3F));
		}
	}
	static std::string string(std::string_view s, std::size_t &i) {
		std::string out;
		++i; // the opening quote
		while (i < s.size() && s[i] != '"') {
			char c = s[i++];
			if (c != '\\') {
				out += c;
				continue;
			}
			if (i >= s.size())
				bad("short escape");
			char e = s[i++];
			switch (e) {
			case 'n': out += '\n'; break;
			case 't': out += '\t'; break;
			case 'r': out += '\r'; break;
			case 'b': out += '\b'; break;
			case 'f': out += '\f'; break;
			case 'u': {
				unsigned cp = hex4(s, i);
				i += 4;
				if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
					unsigned lo = hex4(s, i + 2);
					if (lo >= 0xDC00 && lo < 0xE000) {
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						i += 6;
					}
				}
				utf8(out, cp);
				break;
			}
			default: out += e; break; // \" \\ \/
			}
		}
		if (i >= s.size())
			bad("unterminated string");
		++i;
		return out;
	}
	static json value(std::string_view s, std::size_t &i) {
		skip(s, i);
		if (i >= s.size())
			bad("unexpected end");
		json v;
		char c = s[i];
		if (c == '{') {
			v.type = kind::object;
			++i;
			skip(s, i);
			if (i < s.size() && s[i] == '}') {
				++i;
				return v;
			}
			for (;;) {
				skip(s, i);
				if (i >= s.size() || s[i] != '"')
					bad("object key");
				std::string name = string(s, i);
				skip(s, i);
				expect(s, i, ":");
				v.obj[name] = value(s, i);
				skip(s, i);
				if (i < s.size() && s[i] == ',') {
					++i;
					continue;
				}
				expect(s, i, "}");
				return v;
			}
		}
		if (c == '[') {
			v.type = kind::array;
			++i;
			skip(s, i);
			if (i < s.size() && s[i] == ']') {
				++i;
				return v;
			}
			for (;;) {
				v.arr.push_back(value(s, i));
				skip(s, i);
				if (i < s.size() && s[i] == ',') {
					++i;
					continue;
				}
				expect(s, i, "]");
				return v;
			}
		}
		if (c == '"') {
			v.type = kind::string;
			v.str = string(s, i);
			return v;
		}
		if (c == 't') {
			expect(s, i, "true");
			v.type = kind::boolean;
			v.b = true;
			return v;
		}
		if (c == 'f') {
			expect(s, i, "false");
			v.type = kind::boolean;
			return v;
		}
		if (c == 'n') {
			expect(s, i, "null");
			return v;
		}
		std::size_t start = i;
		while (i < s.size() && (s[i] == '-' || s[i] == '+' || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
					(s[i] >= '0' && s[i] <= '9')))
			++i;
		if (start == i)
			bad("unexpected character");
		v.type = kind::number;
		v.num = std::strtod(std::string(s.substr(start, i - start)).c_str(), nullptr);
		return v;
	}
};

// Decodes standard base64 (with padding), as Go's encoding/json writes bytes.
inline std::string base64_decode(std::string_view in) {
	auto val = [](char c) -> int {
		if (c >= 'A' && c <= 'Z')
			return c - 'A';
		if (c >= 'a' && c <= 'z')
			return c - 'a' + 26;
		if (c >= '0' && c <= '9')
			return c - '0' + 52;
		if (c == '+')
			return 62;
		if (c == '/')
			return 63;
		return -1;
	};
	std::string out;
	out.reserve(in.size() / 4 * 3);
	unsigned acc = 0;
	int bits = 0;
	for (char c : in) {
		if (c == '=')
			break;
		int v = val(c);
		if (v < 0)
			throw error(ELL_EPROTO, "elliptics: bad base64 from the library");
		acc = (acc << 6) | static_cast<unsigned>(v);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out += static_cast<char>((acc >> bits) & 0xFF);
		}
	}
	return out;
}

inline exec_result exec_result_of(const json &j) {
	exec_result r;
	r.event = j["event"].as_string();
	r.key = j["key"].as_string();
	if (j["id"].type == json::kind::string && !j["id"].str.empty())
		r.key_id = id::from_hex(j["id"].str);
	r.address = j["address"].as_string();
	r.group = static_cast<std::uint32_t>(j["group"].as_u64());
	r.data = base64_decode(j["data"].as_string());
	r.duration = std::chrono::duration<double>(j["seconds"].num);
	const json &e = j["error"];
	if (e.type == json::kind::object)
		r.error = error_info(static_cast<int>(e["code"].as_i64()), e["message"].as_string());
	return r;
}

inline void script_info_of(const json &j, script_info &out) {
	out.name = j["name"].as_string();
	out.version = j["version"].as_u64();
	out.size = j["size"].as_u64();
	out.updated = j["updated"].as_string();
	out.sha256 = j["sha256"].as_string();
}

} // namespace detail
} // namespace elliptics
} // namespace ioremap

#endif // ELLIPTICS_EXEC_HPP
