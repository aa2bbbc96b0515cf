"""Curated emoji pool and Chinese phrase lexicon of the demo benchmark.

Every phrase is pre-segmented: words separated by single spaces, exactly as
the StickerChat release stores its texts.  The pool groups emoji by the
meaning a chat partner would express with them (laughing, crying, thanks,
...).  A group has

* ``phrases``: what people write when they feel that way (strong cues,
  shared by every emoji of the group, so they do not tell two laughing
  faces apart);
* ``keywords``: one-word hints used for weak cues;
* per emoji, ``specific`` phrases that name the picture itself (e.g.
  笑哭 了 for 😂 vs 笑 到 打滚 for 🤣).  The ``emoji`` package's Chinese
  CLDR name (segmented with jieba) is added to them at run time, see
  :func:`specific_phrases`.

Small talk (distractor turns) is built from the word banks at the end; a
unit test checks that they never contain a cue phrase.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Group:
    name: str
    weight: float  # relative popularity as a ground-truth response
    phrases: tuple[str, ...]
    keywords: tuple[str, ...]
    emoji: tuple[tuple[str, tuple[str, ...]], ...]  # (emoji, specific phrases)


def _g(name, weight, phrases, keywords, emoji):
    return Group(
        name, weight, tuple(phrases), tuple(keywords), tuple((e, tuple(s)) for e, s in emoji)
    )


GROUPS: tuple[Group, ...] = (
    _g(
        "laugh",
        1.6,
        [
            "哈哈哈",
            "哈哈哈哈 笑死 我 了",
            "太 好笑 了",
            "笑 死",
            "这个 太 逗 了",
            "笑 得 我 肚子 疼",
            "哈哈 绝 了",
            "真 搞笑",
            "笑 不 活 了",
            "哈哈 你 太 有才 了",
        ],
        ["哈哈", "好笑", "搞笑", "笑死"],
        [
            ("😀", ["咧嘴 笑", "露齿 大笑"]),
            ("😃", ["张嘴 笑", "乐 开花"]),
            ("😄", ["眯眼 笑", "笑眯 了 眼"]),
            ("😁", ["呲牙 笑", "露 牙齿"]),
            ("😆", ["笑 得 眼睛 都 没 了", "闭眼 狂笑"]),
            ("😂", ["笑哭 了", "笑 出 眼泪"]),
            ("🤣", ["笑 到 打滚", "笑 得 满地 打滚"]),
            ("😹", ["猫 笑哭", "猫 都 笑 了"]),
        ],
    ),
    _g(
        "smile",
        1.2,
        [
            "开心",
            "好 开心 啊",
            "今天 心情 不错",
            "嘻嘻",
            "美滋滋",
            "真 高兴",
            "心情 很 好",
            "开心 开心",
        ],
        ["开心", "高兴", "嘻嘻"],
        [
            ("🙂", ["微微 一笑", "淡定 微笑"]),
            ("😊", ["笑眯眯", "脸蛋 红红"]),
            ("☺️", ["温柔 一笑", "甜甜 的 笑"]),
            ("😇", ["天使", "我 是 好人"]),
            ("😌", ["松 了 口气", "舒服"]),
        ],
    ),
    _g(
        "love",
        1.3,
        ["爱 你", "喜欢", "好 喜欢", "太 爱 了", "么么哒", "比心", "爱 了 爱 了", "心动"],
        ["爱", "喜欢", "心动"],
        [
            ("😍", ["花痴", "两眼 冒 爱心"]),
            ("🥰", ["被 爱 包围", "幸福 满满"]),
            ("😘", ["飞吻", "亲 一个"]),
            ("❤️", ["红心", "一颗 爱心"]),
            ("💕", ["两颗 心", "心心 相印"]),
            ("💖", ["闪亮 的 心", "亮晶晶 的 心"]),
            ("😻", ["猫 花痴", "猫 眼 冒 心"]),
            ("💘", ["一箭穿心", "丘比特"]),
        ],
    ),
    _g(
        "sad",
        1.3,
        ["好 难过", "呜呜呜", "哭 了", "太 惨 了", "心 好 痛", "委屈", "伤心", "我 好 难"],
        ["难过", "伤心", "呜呜"],
        [
            ("😢", ["流泪", "掉 眼泪"]),
            ("😭", ["大哭", "哭 得 稀里哗啦"]),
            ("😿", ["猫 哭 了", "哭泣 的 猫"]),
            ("😞", ["失望", "好 失望"]),
            ("😔", ["沮丧", "低落"]),
            ("🥺", ["可怜巴巴", "求求 你 了"]),
            ("💔", ["心碎", "失恋"]),
        ],
    ),
    _g(
        "angry",
        1.0,
        ["气死 我 了", "生气", "好 烦", "太 过分 了", "火大", "别 惹 我", "什么 玩意"],
        ["生气", "过分", "烦"],
        [
            ("😠", ["哼", "不 高兴 了"]),
            ("😡", ["怒火", "暴怒"]),
            ("🤬", ["骂人", "脏话"]),
            ("👿", ["恶魔", "坏 透 了"]),
            ("💢", ["青筋", "青筋 暴起"]),
            ("😤", ["气鼓鼓", "不服"]),
        ],
    ),
    _g(
        "surprise",
        0.9,
        [
            "天 哪",
            "卧槽",
            "真的 假的",
            "不 会 吧",
            "震惊",
            "吓 我 一 跳",
            "什么 ？ ！",
            "我 没 看错 吧",
        ],
        ["震惊", "卧槽", "居然"],
        [
            ("😮", ["张大 嘴", "目瞪口呆"]),
            ("😲", ["惊呆 了", "惊讶"]),
            ("😱", ["吓死 了", "尖叫"]),
            ("🙀", ["猫 吓坏 了", "吓 到 炸毛"]),
            ("😯", ["哦 ？", "噢"]),
            ("🤯", ["脑袋 炸 了", "炸裂"]),
        ],
    ),
    _g(
        "think",
        0.9,
        [
            "让 我 想想",
            "嗯 ……",
            "为什么 呢",
            "我 不 懂",
            "什么 意思 ？",
            "好 奇怪",
            "是 吗 ？",
            "有点 疑惑",
        ],
        ["想想", "疑惑", "为什么"],
        [
            ("🤔", ["思考", "我 想 一下"]),
            ("😕", ["困惑", "搞不懂"]),
            ("🤨", ["怀疑", "挑眉"]),
            ("❓", ["问号", "黑人 问号"]),
            ("🧐", ["仔细 研究", "单片 眼镜"]),
            ("🤷", ["耸肩", "不 知道"]),
        ],
    ),
    _g(
        "tired",
        0.9,
        ["好 困", "累 死 了", "想 睡觉", "晚安", "睡 了 睡 了", "熬夜", "没 精神", "好 累"],
        ["困", "累", "睡觉"],
        [
            ("😴", ["睡着 了", "呼呼 大睡"]),
            ("🥱", ["打 哈欠", "哈欠 连天"]),
            ("😪", ["犯困", "困 得 流 鼻涕"]),
            ("💤", ["zzz", "进入 梦乡"]),
            ("😩", ["疲惫", "崩溃"]),
            ("🛌", ["躺平", "赖床"]),
        ],
    ),
    _g(
        "thanks",
        1.0,
        ["谢谢", "谢谢 你", "多谢", "感谢", "辛苦 了", "麻烦 你 了", "拜托 了", "感恩"],
        ["谢谢", "感谢", "拜托"],
        [
            ("🙏", ["双手 合十", "求 你 了"]),
            ("🤝", ["握手", "合作 愉快"]),
            ("💐", ["送 你 花", "花束"]),
            ("🙇", ["鞠躬", "给 你 跪 了"]),
        ],
    ),
    _g(
        "approve",
        1.2,
        ["好 的", "没 问题", "可以", "行", "收到", "OK", "赞", "同意", "就 这么 办"],
        ["好 的", "可以", "收到"],
        [
            ("👍", ["点赞", "竖起 大拇指"]),
            ("👌", ["OK 手势", "妥妥 的"]),
            ("✅", ["打勾", "搞定 了"]),
            ("💯", ["满分", "一百分"]),
            ("👏", ["鼓掌", "啪啪 啪"]),
            ("✔️", ["对勾", "核对 完毕"]),
        ],
    ),
    _g(
        "greet",
        0.8,
        ["你好", "大家 好", "早上好", "嗨", "拜拜", "再见", "回头 见", "我 先 走 了"],
        ["你好", "再见", "拜拜"],
        [
            ("👋", ["挥手", "招手"]),
            ("🙋", ["举手", "我 我 我"]),
            ("🌞", ["早安", "太阳 出来 了"]),
            ("🌙", ["月亮", "夜深 了"]),
        ],
    ),
    _g(
        "celebrate",
        0.9,
        ["恭喜", "恭喜 恭喜", "太棒了", "祝贺", "干杯", "生日 快乐", "过节 啦", "撒花"],
        ["恭喜", "祝贺", "快乐"],
        [
            ("🎉", ["礼花", "放 礼炮"]),
            ("🥳", ["派对", "开 派对"]),
            ("🎊", ["彩球", "彩带"]),
            ("🎂", ["蛋糕", "生日 蛋糕"]),
            ("🎁", ["礼物", "拆 礼物"]),
            ("🏆", ["奖杯", "冠军"]),
            ("🍻", ["碰杯", "喝 一杯"]),
        ],
    ),
    _g(
        "cool",
        0.8,
        ["厉害", "牛", "太 强 了", "大佬", "666", "酷", "帅", "稳"],
        ["厉害", "牛", "666"],
        [
            ("😎", ["墨镜", "酷酷 的"]),
            ("💪", ["肌肉", "加油"]),
            ("🔥", ["火", "火爆"]),
            ("⭐", ["星星", "明星"]),
            ("🚀", ["火箭", "起飞"]),
            ("🤩", ["崇拜", "星星眼"]),
        ],
    ),
    _g(
        "awkward",
        0.9,
        ["尴尬", "害羞", "不好意思", "羞死 了", "脸红 了", "捂脸", "打扰 了", "emmm"],
        ["尴尬", "害羞", "不好意思"],
        [
            ("😅", ["流汗", "擦汗"]),
            ("😳", ["脸 红透", "瞪大 眼睛"]),
            ("🙈", ["猴子 捂眼", "不 看 不 看"]),
            ("🤭", ["偷笑", "捂嘴 笑"]),
            ("😬", ["龇牙", "咬牙"]),
        ],
    ),
    _g(
        "speechless",
        0.9,
        ["无语", "无话可说", "呵呵", "服 了", "我 真是 服 了", "算了", "随便", "切"],
        ["无语", "呵呵", "服 了"],
        [
            ("😒", ["不屑", "斜眼"]),
            ("🙄", ["翻 白眼", "白眼"]),
            ("😑", ["面无表情", "一 脸 冷漠"]),
            ("😐", ["冷漠", "没 表情"]),
            ("🤮", ["呕吐", "恶心 死 了"]),
            ("🤢", ["恶心", "想 吐"]),
            ("😶", ["沉默", "说不出话"]),
        ],
    ),
    _g(
        "fear",
        0.6,
        ["好 怕", "害怕", "好 紧张", "救命", "完 了 完 了", "吓人", "慌 了"],
        ["害怕", "紧张", "救命"],
        [
            ("😨", ["惊恐", "脸 都 白 了"]),
            ("😰", ["焦虑", "冒 冷汗"]),
            ("😖", ["纠结", "难受"]),
            ("👻", ["鬼", "闹鬼"]),
            ("😵", ["晕 了", "头晕"]),
        ],
    ),
    _g(
        "food",
        0.8,
        ["饿 了", "好 饿", "吃 什么", "好吃", "馋 了", "干饭", "开饭 了", "想 吃"],
        ["饿", "好吃", "吃"],
        [
            ("🍕", ["披萨", "点 披萨"]),
            ("🍔", ["汉堡", "汉堡 套餐"]),
            ("🍜", ["面条", "拉面"]),
            ("🍰", ["甜品", "甜点"]),
            ("🍺", ["啤酒", "撸 串"]),
            ("☕", ["咖啡", "喝 咖啡"]),
            ("🍦", ["冰淇淋", "雪糕"]),
            ("🍉", ["西瓜", "吃瓜"]),
            ("🍗", ["鸡腿", "加 鸡腿"]),
            ("🍚", ["米饭", "一 碗 饭"]),
        ],
    ),
    _g(
        "animal",
        1.0,
        ["好 可爱", "太 萌 了", "可爱", "萌 萌 哒", "想 撸", "小 动物"],
        ["可爱", "萌"],
        [
            ("🐶", ["狗狗", "汪汪"]),
            ("🐱", ["猫咪", "喵 喵"]),
            ("🐼", ["熊猫", "国宝"]),
            ("🐷", ["猪猪", "小 猪"]),
            ("🐰", ["兔子", "小白兔"]),
            ("🦊", ["狐狸", "狐狸 精"]),
            ("🐸", ["青蛙", "呱呱"]),
            ("🐧", ["企鹅", "小 企鹅"]),
            ("🐻", ["小熊", "熊孩子"]),
            ("🐵", ["猴哥", "猴 脸"]),
            ("🐔", ["小鸡", "鸡"]),
            ("🐮", ["奶牛", "哞"]),
            ("🐨", ["考拉", "树袋熊"]),
            ("🦄", ["独角兽", "彩虹 马"]),
            ("🐯", ["老虎", "虎"]),
        ],
    ),
    _g(
        "refuse",
        0.8,
        ["不要", "不行", "不 可以", "拒绝", "不 了 不 了", "没门", "算 了 吧", "达咩"],
        ["不要", "不行", "拒绝"],
        [
            ("👎", ["踩", "差评"]),
            ("🙅", ["不 可以 哦", "双手 交叉"]),
            ("❌", ["叉", "错 了"]),
            ("✋", ["停", "打住"]),
            ("🚫", ["禁止", "不许"]),
            ("⛔", ["此路不通", "禁行"]),
        ],
    ),
    _g(
        "sick",
        0.5,
        ["生病 了", "不 舒服", "发烧", "感冒 了", "多 喝 热水", "去 看 医生", "保重 身体"],
        ["生病", "感冒", "难受 死 了"],
        [
            ("🤒", ["体温计", "发烧 了"]),
            ("🤧", ["打 喷嚏", "鼻涕"]),
            ("😷", ["口罩", "戴 口罩"]),
            ("🤕", ["受伤", "绷带"]),
            ("💊", ["吃药", "药丸"]),
        ],
    ),
    _g(
        "silly",
        0.8,
        ["略略略", "调皮", "逗 你 的", "开玩笑 的", "闹 着 玩", "就 不 告诉 你"],
        ["调皮", "略略略", "开玩笑"],
        [
            ("😜", ["吐舌 鬼脸", "做 鬼脸"]),
            ("😝", ["眯眼 吐舌", "扮 丑"]),
            ("😛", ["吐舌头", "舌头"]),
            ("🤪", ["疯 了", "发疯"]),
            ("😋", ["真 香", "舔 嘴"]),
            ("😉", ["眨眼", "你 懂 的"]),
        ],
    ),
    _g(
        "money",
        0.6,
        ["发财", "有钱", "没钱 了", "穷", "工资", "红包", "发 红包", "土豪"],
        ["钱", "红包", "发财"],
        [
            ("💰", ["钱袋", "一 袋 钱"]),
            ("🤑", ["财迷", "见钱眼开"]),
            ("💸", ["钱 飞 了", "花钱 如 流水"]),
            ("🧧", ["红包 来 了", "压岁钱"]),
            ("💎", ["钻石", "闪闪 发光"]),
        ],
    ),
    _g(
        "hug",
        0.7,
        ["抱抱", "抱 一下", "摸摸头", "安慰 你", "乖", "不哭 不哭", "没事 的"],
        ["抱抱", "安慰", "摸摸"],
        [
            ("🤗", ["拥抱", "张开 双臂"]),
            ("😚", ["亲亲", "闭眼 亲"]),
            ("🫂", ["紧紧 抱住", "两个 人 抱"]),
            ("😙", ["吹 口哨", "嘟嘴"]),
        ],
    ),
    _g(
        "quiet",
        0.4,
        ["嘘", "别 说 了", "保密", "小声 点", "不 能 说"],
        ["嘘", "保密", "小声"],
        [("🤫", ["安静", "噤声"]), ("🤐", ["闭嘴", "拉链 嘴"]), ("🙊", ["不 说 不 说", "捂嘴 猴"])],
    ),
)

# Emoji drawn as a recurring set mascot in a corner (never a label).
MASCOTS: tuple[str, ...] = (
    "🐤",
    "🦔",
    "🐙",
    "🦉",
    "🐢",
    "🌵",
    "🍄",
    "🤖",
    "👾",
    "⛄",
    "🐳",
    "🦋",
    "🌻",
    "🐞",
    "🦖",
    "🐝",
)

PUNCT_END: tuple[str, ...] = ("！", "！！", "啊", "呀", "～", "。", "吧", "哦")

# ---------------------------------------------------------------- small talk
SUBJ = (
    "我",
    "你",
    "他",
    "她",
    "我们",
    "你们",
    "他们",
    "大家",
    "老王",
    "小李",
    "小张",
    "室友",
    "同事",
    "老板",
    "我 妈",
    "我 爸",
    "我 哥",
    "班长",
    "老师",
    "组长",
    "隔壁",
)
TIME = (
    "今天",
    "明天",
    "昨天",
    "刚才",
    "刚刚",
    "晚上",
    "早上",
    "中午",
    "周末",
    "下周",
    "上周",
    "等会儿",
    "待会",
    "这 几天",
    "最近",
    "下午",
    "前天",
    "后天",
    "月底",
)
PLACE = (
    "公司",
    "学校",
    "图书馆",
    "地铁站",
    "商场",
    "机场",
    "健身房",
    "宿舍",
    "办公室",
    "楼下",
    "家里",
    "车站",
    "公园",
    "教室",
    "实验室",
    "会议室",
    "停车场",
    "银行",
)
ACT = (
    "开会",
    "加班",
    "写 代码",
    "看 电影",
    "打 游戏",
    "跑步",
    "复习",
    "考试",
    "出差",
    "搬家",
    "修 电脑",
    "取 快递",
    "洗 衣服",
    "打扫 卫生",
    "买 东西",
    "剪 头发",
    "坐 地铁",
    "打车",
    "写 报告",
    "改 论文",
    "上课",
    "听 讲座",
    "排队",
    "看 比赛",
    "追 剧",
    "学 英语",
    "练 吉他",
    "逛街",
    "带 孩子",
    "交 作业",
    "装 软件",
    "升级 系统",
    "开车",
    "骑车",
    "拍 照片",
    "剪 视频",
    "打 篮球",
    "爬山",
)
OBJ = (
    "手机",
    "电脑",
    "键盘",
    "耳机",
    "雨伞",
    "钥匙",
    "充电器",
    "快递",
    "文件",
    "作业",
    "报告",
    "资料",
    "合同",
    "车票",
    "门票",
    "衣服",
    "鞋子",
    "书包",
    "护照",
    "显示器",
    "密码",
    "链接",
    "照片",
    "视频",
    "截图",
    "软件",
    "版本",
    "接口",
    "服务器",
    "路由器",
)
ADJ = (
    "贵",
    "便宜",
    "远",
    "近",
    "新",
    "旧",
    "快",
    "慢",
    "方便",
    "大",
    "小",
    "重要",
    "简单",
    "复杂",
    "正常",
    "准时",
    "热闹",
    "干净",
)
INFO = ("链接", "地址", "型号", "价格", "电话", "账号", "时间")
NUM = ("一", "两", "三", "四", "五", "六", "七", "八", "九", "十")
FILLER = (
    "嗯",
    "对",
    "是 的",
    "然后 呢 ？",
    "确实",
    "真的 吗",
    "我 也 是",
    "同 问",
    "+1",
    "在 吗 ？",
    "在 的",
    "等 一下",
    "我 看看",
    "刚 看到 消息",
    "稍等",
    "明白",
    "对 对 对",
    "有 道理",
    "然后 呢",
    "懂 了",
)
TEMPLATES = (
    "{SUBJ} {TIME} 要 去 {PLACE}",
    "{SUBJ} {TIME} 在 {PLACE} {ACT}",
    "{TIME} {ACT} 吗 ？",
    "{SUBJ} 的 {OBJ} 放在 {PLACE} 了",
    "谁 有 {OBJ} 的 {INFO} ？",
    "这个 {OBJ} 太 {ADJ} 了",
    "{PLACE} 离 {PLACE} 挺 {ADJ} 的",
    "{SUBJ} {TIME} {ACT} ， 你 呢 ？",
    "我 在 {PLACE} ， 马上 到",
    "群 里 有人 {TIME} {ACT} 吗",
    "这个 {OBJ} 在 哪 买 的 ？",
    "{SUBJ} 说 {TIME} {ACT}",
    "几 点 {ACT} ？",
    "{OBJ} 找到 了 吗 ？",
    "我 把 {OBJ} 发 群 里 了",
    "{TIME} 天气 怎么样",
    "有 没有 人 {TIME} 一起 {ACT}",
    "{SUBJ} 的 {OBJ} 坏 了",
    "{INFO} 发 我 一下",
    "{NUM} 点 在 {PLACE} 集合",
    "{ACT} 的 人 好多",
    "刚 {ACT} 完 ， 回 {PLACE} 了",
    "{SUBJ} 问 你 {OBJ} 的 事",
    "{TIME} 谁 去 {PLACE} ？ 帮 我 带 个 {OBJ}",
    "{SUBJ} {TIME} 一直 在 {ACT}",
    "{OBJ} 的 {INFO} 换 了",
    "你 的 {OBJ} 是 什么 {INFO} ？",
    "{TIME} {NUM} 点 {ACT} ， 别 迟到",
    "{PLACE} 那边 {ADJ} 吗 ？",
    "我 还 在 {ACT} ， {TIME} 再说",
)
SLOTS: dict[str, tuple[str, ...]] = {
    "SUBJ": SUBJ,
    "TIME": TIME,
    "PLACE": PLACE,
    "ACT": ACT,
    "OBJ": OBJ,
    "ADJ": ADJ,
    "INFO": INFO,
    "NUM": NUM,
}


# ------------------------------------------------------------------ lookups
def pool() -> list[tuple[str, str]]:
    """All labelled emoji as (emoji, group name), in lexicon order."""
    return [(e, g.name) for g in GROUPS for e, _ in g.emoji]


@functools.cache
def group_of(emoji_char: str) -> Group:
    for g in GROUPS:
        for e, _ in g.emoji:
            if e == emoji_char:
                return g
    raise KeyError(f"emoji {emoji_char!r} is not in the demo pool")


@functools.cache
def zh_name(emoji_char: str) -> str:
    """The emoji package's Chinese CLDR name, jieba-segmented ('' if none)."""
    import emoji as emoji_pkg  # pylint: disable=import-outside-toplevel

    name = emoji_pkg.demojize(emoji_char, language="zh", delimiters=("", ""))
    if not name or name == emoji_char:
        return ""
    name = "".join(ch for ch in name if ch not in " _:：")
    return " ".join(_segment(name))


def _segment(text: str) -> list[str]:
    import logging  # pylint: disable=import-outside-toplevel

    import jieba  # pylint: disable=import-outside-toplevel

    jieba.setLogLevel(logging.WARNING)
    return [w for w in jieba.lcut(text) if w.strip()]


@functools.cache
def specific_phrases(emoji_char: str) -> tuple[str, ...]:
    """Phrases naming this very picture: curated ones plus the CLDR zh name."""
    g = group_of(emoji_char)
    curated = dict(g.emoji)[emoji_char]
    name = zh_name(emoji_char)
    out = list(curated)
    if name and name not in out:
        out.append(name)
    return tuple(out)


def cue_phrases(emoji_char: str) -> tuple[str, ...]:
    """Every phrase that cues this emoji (group phrases, keywords, specific)."""
    g = group_of(emoji_char)
    return tuple(dict.fromkeys(g.phrases + g.keywords + specific_phrases(emoji_char)))


def contains_phrase(text: str, phrase: str) -> bool:
    """Whole-word match of a segmented phrase inside a segmented text."""
    return f" {phrase} " in f" {text} "


def all_cue_phrases() -> Sequence[str]:
    out = []
    for g in GROUPS:
        out.extend(g.phrases)
        out.extend(g.keywords)
        for e, _ in g.emoji:
            out.extend(specific_phrases(e))
    return tuple(dict.fromkeys(out))
