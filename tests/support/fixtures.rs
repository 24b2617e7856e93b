//! The works procedure the end-to-end tests follow, as a platform sends it (the data standard's
//! XML): 徐州市三环东路快速化改造工程 section 001 on JSGGZY (江苏), from its tender (招标公告)
//! through its candidates (中标候选人公示) to its award (中标结果公告). Each builder takes what the
//! tests vary; everything else is one realistic notice.

/// `TENDER_PROJECT_CODE` of the procedure.
pub const PROJECT: &str = "E3203010319005778";
/// `BID_SECTION_CODE` of its section 001.
pub const SECTION: &str = "E3203010319005778001";
/// `NOTICE_NAME` of its tender.
pub const TENDER_TITLE: &str = "徐州市三环东路快速化改造工程施工招标公告";

/// The procedure's tender (`TENDER_ANN_QUA_INQUERY_ANN`), sent 2025-03-03 09:00, bids due
/// 2025-03-25 09:30, in region 徐州市 (320300).
pub fn tender() -> String {
    works_tender(PROJECT, SECTION, TENDER_TITLE, "320300")
}

/// A works tender like [`tender`] for another procedure, title or `REGION_CODE`.
pub fn works_tender(project: &str, section: &str, title: &str, region: &str) -> String {
    format!(
        "<TENDER_ANN_QUA_INQUERY_ANN><TENDER_PROJECT_CODE>{project}</TENDER_PROJECT_CODE>\
         <BID_SECTION_CODES>{section}</BID_SECTION_CODES><NOTICE_NAME>{title}</NOTICE_NAME>\
         <NOTICE_CONTENT>现对该项目的施工进行公开招标。</NOTICE_CONTENT><NOTICE_SEND_TIME>2025-03-03 09:00</NOTICE_SEND_TIME>\
         <BULLETIN_TYPE>1</BULLETIN_TYPE><NOTICE_NATURE>1</NOTICE_NATURE><DOC_GET_START_TIME>2025-03-03 09:00</DOC_GET_START_TIME>\
         <DOC_GET_END_TIME>2025-03-10 17:00</DOC_GET_END_TIME><BID_DOC_REFER_END_TIME>2025-03-25 09:30</BID_DOC_REFER_END_TIME>\
         <TENDERER_NAME>徐州市城市建设投资有限公司</TENDERER_NAME><REGION_CODE>{region}</REGION_CODE>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-03 08:55</DATA_TIMESTAMP></TENDER_ANN_QUA_INQUERY_ANN>"
    )
}

/// The procedure's candidates (`TENDER_CANDIDATE_ANNOUNCE`): publicity from 2025-04-08 09:00 to
/// `publicity_end` (`PUBLICITY_END_TIME`, e.g. `2025-04-11 18:00`: three days), one candidate.
pub fn candidates(publicity_end: &str) -> String {
    format!(
        "<TENDER_CANDIDATE_ANNOUNCE><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODES>{SECTION}</BID_SECTION_CODES>\
         <PUBLICITY_NAME>001标段中标候选人公示</PUBLICITY_NAME><PUBLICITY_CONTENT>第一中标候选人：江苏淮海路桥工程有限公司</PUBLICITY_CONTENT>\
         <PUBLICITY_START_TIME>2025-04-08 09:00</PUBLICITY_START_TIME><PUBLICITY_END_TIME>{publicity_end}</PUBLICITY_END_TIME>\
         <OBJECTION_METHOD>书面</OBJECTION_METHOD><PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-04-08 08:40</DATA_TIMESTAMP>\
         <TENDER_CANDIDATE><WIN_CANDIDATE_NAME>江苏淮海路桥工程有限公司</WIN_CANDIDATE_NAME><WIN_CANDIDATE_CODE>913203826683892551</WIN_CANDIDATE_CODE>\
         <WIN_CANDIDATE_ORDER>1</WIN_CANDIDATE_ORDER><BID_PRICE>10876543.21</BID_PRICE><PRICE_UINT>元</PRICE_UINT></TENDER_CANDIDATE>\
         </TENDER_CANDIDATE_ANNOUNCE>"
    )
}

/// The procedure's award (`WIN_RESULT_ANNO`) to the first candidate, sent at `sent`
/// (`NOTICE_SEND_TIME`) with `DATA_TIMESTAMP` `stamp`. It names the project lead with an ID card
/// number: personal data nothing public may show.
pub fn award(sent: &str, stamp: &str) -> String {
    format!(
        "<WIN_RESULT_ANNO><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{SECTION}</BID_SECTION_CODE>\
         <NOTICE_NAME>001标段中标结果公告</NOTICE_NAME><NOTICE_CONTENT>中标人：江苏淮海路桥工程有限公司</NOTICE_CONTENT>\
         <NOTICE_SEND_TIME>{sent}</NOTICE_SEND_TIME><WIN_BIDDER_NAME>江苏淮海路桥工程有限公司</WIN_BIDDER_NAME>\
         <WIN_BIDDER_CODE>913203826683892551</WIN_BIDDER_CODE><BID_AMOUNT>10876543.21</BID_AMOUNT><PRICE_UNIT>元</PRICE_UNIT>\
         <PROJECT_LEAD>张伟</PROJECT_LEAD><PROJECT_LEAD_ID>320303198001011234</PROJECT_LEAD_ID>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>{stamp}</DATA_TIMESTAMP></WIN_RESULT_ANNO>"
    )
}

/// A modification of the procedure's tender (`TENDER_FILE_CLARI_MODI`), sent 2025-03-20 09:00,
/// that moves bids and opening to `deadline` (`BID_DOC_REFER_END_TIME`, e.g. `2025-04-01 09:30`)
/// without changing how bids are prepared (`AFFECTS_BIDS` 0: W4's 15 days do not apply).
pub fn amendment(deadline: &str) -> String {
    amendment_of(SECTION, deadline)
}

/// An [`amendment`] of another section of the project (`BID_SECTION_CODE` `section`).
pub fn amendment_of(section: &str, deadline: &str) -> String {
    format!(
        "<TENDER_FILE_CLARI_MODI><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{section}</BID_SECTION_CODE>\
         <DOC_NAME>徐州市三环东路快速化改造工程001标段招标文件修改及延期公告</DOC_NAME>\
         <CLARIFY_CONTENT>投标截止时间及开标时间顺延至{deadline}。</CLARIFY_CONTENT>\
         <SUBMIT_TIME>2025-03-20 09:00</SUBMIT_TIME><IS_POSTPONE>1</IS_POSTPONE><POST_OPEN_TIME>{deadline}</POST_OPEN_TIME>\
         <AFFECTS_BIDS>0</AFFECTS_BIDS><BID_DOC_REFER_END_TIME>{deadline}</BID_DOC_REFER_END_TIME>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-20 09:01</DATA_TIMESTAMP></TENDER_FILE_CLARI_MODI>"
    )
}

/// A termination (`TENDER_TERMINATION`, 流标) of the procedure's section `section` (a full
/// `BID_SECTION_CODES` value), sent 2025-03-25 15:00 (after the deadline): fewer than three bidders.
pub fn termination(section: &str) -> String {
    format!(
        "<TENDER_TERMINATION><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODES>{section}</BID_SECTION_CODES>\
         <NOTICE_NAME>徐州市三环东路快速化改造工程{section}标段流标公告</NOTICE_NAME>\
         <NOTICE_CONTENT>截至投标截止时间递交投标文件的投标人少于3个，本标段不予开标，招标人将依法重新招标。</NOTICE_CONTENT>\
         <NOTICE_SEND_TIME>2025-03-25 15:00</NOTICE_SEND_TIME><REASON>投标人少于3个，不予开标，依法重新招标</REASON>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-25 15:01</DATA_TIMESTAMP></TENDER_TERMINATION>"
    )
}

/// On a pipeline whose clock reads 2025-04-10 12:00: publishes [`tender`] and the
/// [`candidates`] whose publicity ends 2025-04-11 18:00, then submits the [`award`] sent
/// 2025-04-10 09:00, during that publicity, which is held until it ends (W11). Returns the award's
/// receipt id, without waiting for its outcome.
pub async fn award_before_the_publicity_ends(p: &crate::Pipeline) -> String {
    for doc in [tender(), candidates("2025-04-11 18:00")] {
        p.publish(&doc).await;
    }
    p.submit(&award("2025-04-10 09:00", "2025-04-10 08:50"))
        .await
}
