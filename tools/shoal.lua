-- tools/shoal.lua: Wireshark/tshark dissector for Shoal's cluster protocol (EtherType 0x88B5).
-- The layout is docs/PROTOCOL.md's, as coded in net/wire.h and net/wire.c: a 56-byte big-endian
-- header ending with a SipHash-2-4 tag, then a HELLO, DATA or ACK payload; DATA fragments that
-- start a message on the control channel begin with the RPC header of docs/PROC-CLUSTER.md.
--
-- Use:  tshark -X lua_script:tools/shoal.lua -r cap.pcap -Y shoal -T fields -e shoal.type_name \
--              -e shoal.src -e shoal.dst -e shoal.seq
--       wireshark -X lua_script:tools/shoal.lua cap.pcap   (or copy it to ~/.local/lib/wireshark/plugins/)
-- The tag is shown, not checked (checking needs the cluster key and 64-bit arithmetic).

local shoal = Proto("shoal", "Shoal cluster protocol")

local HLEN = 56
local HELLO_FIXED = 24
local HELLO_ENTRY = 16
local BROADCAST = 0xffff
local F_FIRST, F_LAST = 0x01, 0x02

local types = { [1] = "HELLO", [2] = "DATA", [3] = "ACK" }
local channels = { [0] = "control", [1] = "bulk" }
local rpc_kinds = { [1] = "request", [2] = "response", [3] = "cast" }
local rpc_services = { [1] = "echo", [2] = "bulk sink", [3] = "flood counter" }

local f = shoal.fields
f.version = ProtoField.uint8("shoal.version", "Version", base.DEC)
f.type = ProtoField.uint8("shoal.type", "Type", base.DEC, types)
f.type_name = ProtoField.string("shoal.type_name", "Type name")
f.flags = ProtoField.uint8("shoal.flags", "Flags", base.HEX)
f.flag_first = ProtoField.bool("shoal.flags.first", "First fragment", 8, nil, F_FIRST)
f.flag_last = ProtoField.bool("shoal.flags.last", "Last fragment", 8, nil, F_LAST)
f.channel = ProtoField.uint8("shoal.channel", "Channel", base.DEC, channels)
f.src = ProtoField.uint16("shoal.src", "Source node", base.DEC)
f.dst = ProtoField.uint16("shoal.dst", "Destination node", base.DEC)
f.src_inc = ProtoField.uint32("shoal.src_inc", "Source incarnation", base.HEX)
f.dst_inc = ProtoField.uint32("shoal.dst_inc", "Destination incarnation", base.HEX)
f.src_epoch = ProtoField.uint32("shoal.src_epoch", "Source epoch", base.HEX)
f.dst_epoch = ProtoField.uint32("shoal.dst_epoch", "Destination epoch", base.HEX)
f.seq = ProtoField.uint32("shoal.seq", "Sequence number", base.DEC)
f.ack = ProtoField.uint32("shoal.ack", "Cumulative ack", base.DEC)
f.sack = ProtoField.uint64("shoal.sack", "Selective ack bitmap", base.HEX)
f.msg_len = ProtoField.uint32("shoal.msg_len", "Message length", base.DEC)
f.len = ProtoField.uint16("shoal.len", "Payload length", base.DEC)
f.reserved = ProtoField.uint16("shoal.reserved", "Reserved", base.HEX)
f.tag = ProtoField.bytes("shoal.tag", "Tag (SipHash-2-4)")
f.padding = ProtoField.bytes("shoal.padding", "Ethernet padding")

f.hello_mac = ProtoField.ether("shoal.hello.mac", "MAC")
f.hello_nentries = ProtoField.uint16("shoal.hello.nentries", "View entries", base.DEC)
f.hello_load = ProtoField.uint32("shoal.hello.load", "Load", base.DEC)
f.hello_free = ProtoField.uint32("shoal.hello.free_pages", "Free pages", base.DEC)
f.hello_nprocs = ProtoField.uint32("shoal.hello.nprocs", "Processes", base.DEC)
f.hello_reserved = ProtoField.uint32("shoal.hello.reserved", "Reserved", base.HEX)
f.entry = ProtoField.none("shoal.hello.entry", "View entry")
f.entry_node = ProtoField.uint16("shoal.hello.entry.node", "Node", base.DEC)
f.entry_reserved = ProtoField.uint16("shoal.hello.entry.reserved", "Reserved", base.HEX)
f.entry_inc = ProtoField.uint32("shoal.hello.entry.incarnation", "Incarnation", base.HEX)
f.entry_epoch = ProtoField.uint32("shoal.hello.entry.epoch", "Epoch", base.HEX)
f.entry_peer_epoch = ProtoField.uint32("shoal.hello.entry.peer_epoch", "Peer epoch", base.HEX)

f.ack_word = ProtoField.uint64("shoal.ack.sack_word", "Selective ack word", base.HEX)

f.data = ProtoField.bytes("shoal.data", "Fragment data")
f.rpc_version = ProtoField.uint8("shoal.rpc.version", "RPC version", base.DEC)
f.rpc_kind = ProtoField.uint8("shoal.rpc.kind", "RPC kind", base.DEC, rpc_kinds)
f.rpc_service = ProtoField.uint16("shoal.rpc.service", "RPC service", base.DEC, rpc_services)
f.rpc_status = ProtoField.int32("shoal.rpc.status", "RPC status", base.DEC)
f.rpc_id = ProtoField.uint64("shoal.rpc.id", "RPC call id", base.DEC)

local e_short = ProtoExpert.new("shoal.short", "Frame shorter than the Shoal header",
                                expert.group.MALFORMED, expert.severity.ERROR)
local e_version = ProtoExpert.new("shoal.bad_version", "Unknown protocol version",
                                  expert.group.MALFORMED, expert.severity.ERROR)
local e_type = ProtoExpert.new("shoal.bad_type", "Unknown frame type",
                               expert.group.MALFORMED, expert.severity.ERROR)
local e_length = ProtoExpert.new("shoal.bad_length", "Payload length runs past the frame",
                                 expert.group.MALFORMED, expert.severity.ERROR)
local e_hello = ProtoExpert.new("shoal.bad_hello", "HELLO length does not match its entries",
                                expert.group.MALFORMED, expert.severity.WARN)
shoal.experts = { e_short, e_version, e_type, e_length, e_hello }

local function node_name(n)
    if n == BROADCAST then
        return "*"
    end
    return tostring(n)
end

local function dissect_hello(buf, tree, plen)
    if plen < HELLO_FIXED then
        tree:add_proto_expert_info(e_hello)
        return ""
    end
    tree:add(f.hello_mac, buf(0, 6))
    tree:add(f.hello_nentries, buf(6, 2))
    tree:add(f.hello_load, buf(8, 4))
    tree:add(f.hello_free, buf(12, 4))
    tree:add(f.hello_nprocs, buf(16, 4))
    tree:add(f.hello_reserved, buf(20, 4))
    local n = buf(6, 2):uint()
    if HELLO_FIXED + n * HELLO_ENTRY ~= plen then
        tree:add_proto_expert_info(e_hello)
    end
    local seen = {}
    for i = 0, n - 1 do
        local off = HELLO_FIXED + i * HELLO_ENTRY
        if off + HELLO_ENTRY > plen then
            break
        end
        local e = tree:add(f.entry, buf(off, HELLO_ENTRY))
        local node = buf(off, 2):uint()
        e:add(f.entry_node, buf(off, 2))
        e:add(f.entry_reserved, buf(off + 2, 2))
        e:add(f.entry_inc, buf(off + 4, 4))
        e:add(f.entry_epoch, buf(off + 8, 4))
        e:add(f.entry_peer_epoch, buf(off + 12, 4))
        e:append_text(string.format(": node %d, incarnation %08x", node, buf(off + 4, 4):uint()))
        seen[#seen + 1] = tostring(node)
    end
    return " view=[" .. table.concat(seen, ",") .. "]"
end

local function dissect_data(buf, tree, plen, flags, channel)
    if plen == 0 then
        return ""
    end
    tree:add(f.data, buf(0, plen))
    -- A message's first fragment carries the RPC header (16 bytes, little-endian).
    if bit.band(flags, F_FIRST) ~= 0 and plen >= 16 and buf(0, 1):uint() == 1 then
        local kind = buf(1, 1):uint()
        if rpc_kinds[kind] then
            local r = tree:add(shoal, buf(0, 16), "RPC header")
            r:add_le(f.rpc_version, buf(0, 1))
            r:add_le(f.rpc_kind, buf(1, 1))
            r:add_le(f.rpc_service, buf(2, 2))
            r:add_le(f.rpc_status, buf(4, 4))
            r:add_le(f.rpc_id, buf(8, 8))
            return string.format(" rpc=%s svc=%d id=%s", rpc_kinds[kind], buf(2, 2):le_uint(),
                                 tostring(buf(8, 8):le_uint64()))
        end
    end
    return ""
end

function shoal.dissector(tvb, pinfo, root)
    local len = tvb:len()
    pinfo.cols.protocol = "Shoal"
    local tree = root:add(shoal, tvb(), "Shoal cluster protocol")
    if len < HLEN then
        tree:add_proto_expert_info(e_short)
        pinfo.cols.info = "Shoal (truncated)"
        return len
    end
    local version = tvb(0, 1):uint()
    local ftype = tvb(1, 1):uint()
    local flags = tvb(2, 1):uint()
    local channel = tvb(3, 1):uint()
    local src, dst = tvb(4, 2):uint(), tvb(6, 2):uint()
    local plen = tvb(44, 2):uint()
    local name = types[ftype] or string.format("type %d", ftype)

    tree:add(f.version, tvb(0, 1))
    if version ~= 1 then
        tree:add_proto_expert_info(e_version)
    end
    tree:add(f.type, tvb(1, 1))
    tree:add(f.type_name, tvb(1, 1), name)
    if not types[ftype] then
        tree:add_proto_expert_info(e_type)
    end
    local ft = tree:add(f.flags, tvb(2, 1))
    ft:add(f.flag_first, tvb(2, 1))
    ft:add(f.flag_last, tvb(2, 1))
    tree:add(f.channel, tvb(3, 1))
    tree:add(f.src, tvb(4, 2))
    tree:add(f.dst, tvb(6, 2)):append_text(dst == BROADCAST and " (broadcast)" or "")
    tree:add(f.src_inc, tvb(8, 4))
    tree:add(f.dst_inc, tvb(12, 4))
    tree:add(f.src_epoch, tvb(16, 4))
    tree:add(f.dst_epoch, tvb(20, 4))
    tree:add(f.seq, tvb(24, 4))
    tree:add(f.ack, tvb(28, 4))
    tree:add(f.sack, tvb(32, 8))
    tree:add(f.msg_len, tvb(40, 4))
    tree:add(f.len, tvb(44, 2))
    tree:add(f.reserved, tvb(46, 2))
    tree:add(f.tag, tvb(48, 8))
    tree:set_len(HLEN)

    local info = string.format("%s %s→%s", name, node_name(src), node_name(dst))
    if ftype == 2 then
        info = info .. string.format(" ch=%s seq=%d ack=%d", channels[channel] or channel,
                                     tvb(24, 4):uint(), tvb(28, 4):uint())
        if bit.band(flags, F_FIRST) ~= 0 then
            info = info .. string.format(" FIRST msg_len=%d", tvb(40, 4):uint())
        end
        if bit.band(flags, F_LAST) ~= 0 then
            info = info .. " LAST"
        end
    elseif ftype == 3 then
        info = info .. string.format(" ch=%s ack=%d", channels[channel] or channel, tvb(28, 4):uint())
    elseif ftype == 1 then
        info = info .. string.format(" inc=%08x seq=%d", tvb(8, 4):uint(), tvb(24, 4):uint())
    end

    if HLEN + plen > len then
        tree:add_proto_expert_info(e_length)
        pinfo.cols.info = info .. " [bad length]"
        return len
    end
    local payload = tvb(HLEN, plen)
    if plen > 0 then
        local pt = root:add(shoal, payload, string.format("Shoal %s payload (%d bytes)", name, plen))
        local body = payload:tvb()
        if ftype == 1 then
            info = info .. dissect_hello(body, pt, plen)
        elseif ftype == 2 then
            info = info .. dissect_data(body, pt, plen, flags, channel)
        elseif ftype == 3 then
            for i = 0, plen / 8 - 1 do
                pt:add(f.ack_word, body(i * 8, 8))
            end
        end
    end
    if HLEN + plen < len then
        root:add(f.padding, tvb(HLEN + plen))
    end
    pinfo.cols.info = info
    return len
end

DissectorTable.get("ethertype"):add(0x88b5, shoal)
